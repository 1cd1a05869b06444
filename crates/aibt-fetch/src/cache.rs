//! The local cache: one JSON file per series holding the bars fetched so far and the ranges the
//! provider has answered for, so that a range inside them needs no request.
//!
//! ```json
//! {"covered": [["2024-01-01T00:00:00Z", "2024-03-01T00:00:00Z"]],
//!  "bars": [{"ts": "2024-01-02T00:00:00Z", "open": "187.15", "high": "188.44",
//!            "low": "183.89", "close": "185.64", "volume": "82488700"}]}
//! ```
//!
//! A range is covered when the provider answered for it, bars or none: a holiday, or a time
//! before a pair was listed, is then not asked for again. Decimals are strings, so they read
//! back exactly. Files are replaced whole (a temporary file renamed over the old one), so a
//! reader never sees half a file and a failed write leaves the previous one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use aibt_core::{Bar, Money, Quantity};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::FetchError;
use crate::span::{self, Span};

/// A series' cache in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cache {
    /// A [`span::union`].
    pub covered: Vec<Span>,
    pub bars: BTreeMap<DateTime<Utc>, Bar>,
}

impl Cache {
    /// Adds what the provider answered for `answered`: its bars replace cached ones at the same
    /// time, since a provider may correct its data.
    pub fn record(&mut self, answered: Span, bars: Vec<Bar>) {
        for bar in bars {
            self.bars.insert(bar.ts, bar);
        }
        let mut covered = std::mem::take(&mut self.covered);
        covered.push(answered);
        self.covered = span::union(covered);
    }

    pub fn bars_in(&self, range: Span) -> Vec<Bar> {
        self.bars
            .range(range.start..range.end)
            .map(|(_, bar)| *bar)
            .collect()
    }
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    covered: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    bars: Vec<CachedBar>,
}

#[derive(Serialize, Deserialize)]
struct CachedBar {
    ts: DateTime<Utc>,
    open: String,
    high: String,
    low: String,
    close: String,
    volume: String,
}

/// Decimal text without the trailing zeros of scale 8, so files stay small and readable.
fn text(value: impl Into<aibt_core::Decimal>) -> String {
    value.into().normalize().to_string()
}

fn corrupt(path: &Path, reason: impl std::fmt::Display) -> FetchError {
    FetchError::Cache {
        path: path.to_path_buf(),
        reason: format!(
            "it is not a readable aibt cache file ({reason}); delete it and fetch again"
        ),
    }
}

/// Reads a series' cache; a file that does not exist is an empty cache.
pub(crate) fn load(path: &Path) -> Result<Cache, FetchError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Cache::default());
        }
        Err(error) => {
            return Err(FetchError::Cache {
                path: path.to_path_buf(),
                reason: format!("it cannot be read ({error}); check its permissions"),
            });
        }
    };
    let file: CacheFile = serde_json::from_slice(&bytes).map_err(|e| corrupt(path, e))?;
    let mut covered = Vec::with_capacity(file.covered.len());
    for (start, end) in file.covered {
        if end <= start {
            return Err(corrupt(
                path,
                format!("the covered range [{start}, {end}) is empty"),
            ));
        }
        covered.push(Span::new(start, end));
    }
    let mut bars = BTreeMap::new();
    for cached in file.bars {
        let bar = read_bar(&cached)
            .map_err(|reason| corrupt(path, format!("the bar at {}: {reason}", cached.ts)))?;
        bars.insert(bar.ts, bar);
    }
    Ok(Cache {
        covered: span::union(covered),
        bars,
    })
}

fn read_bar(cached: &CachedBar) -> Result<Bar, String> {
    let money = |text: &str| Money::parse(text).map_err(|e| e.to_string());
    Bar::new(
        cached.ts,
        money(&cached.open)?,
        money(&cached.high)?,
        money(&cached.low)?,
        money(&cached.close)?,
        Quantity::parse(&cached.volume).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())
}

/// The file's content.
pub(crate) fn encode(cache: &Cache) -> Result<Vec<u8>, serde_json::Error> {
    let file = CacheFile {
        covered: cache.covered.iter().map(|s| (s.start, s.end)).collect(),
        bars: cache
            .bars
            .values()
            .map(|bar| CachedBar {
                ts: bar.ts,
                open: text(bar.open),
                high: text(bar.high),
                low: text(bar.low),
                close: text(bar.close),
                volume: text(bar.volume),
            })
            .collect(),
    };
    serde_json::to_vec(&file)
}

/// Replaces the file at `path` with `content`, creating its folder if needed.
pub(crate) fn save(path: &Path, content: &[u8]) -> Result<(), FetchError> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let failed = |error: std::io::Error| FetchError::Cache {
        path: path.to_path_buf(),
        reason: format!(
            "it cannot be written ({error}); check that the cache folder is writable and has space"
        ),
    };
    let folder = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(failed)?;
    // In the same folder, so the rename stays on one file system and is atomic; named per
    // process and write, so two writers never share a temporary file.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary: PathBuf = folder.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(content)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(failed(error));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, d, 0, 0, 0).unwrap()
    }

    fn bar(d: u32, close: &str) -> Bar {
        let m = |t: &str| Money::parse(t).unwrap();
        Bar::new(
            day(d),
            m("100"),
            m("200.5"),
            m("50"),
            m(close),
            Quantity::parse("12.00000001").unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn a_saved_cache_reads_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("yahoo").join("AAPL_1d.json");
        let mut cache = Cache::default();
        cache.record(
            Span::new(day(1), day(3)),
            vec![bar(1, "171.48"), bar(2, "150")],
        );
        cache.record(Span::new(day(3), day(5)), vec![bar(2, "160.1")]);
        save(&path, &encode(&cache).unwrap()).unwrap();
        let read = load(&path).unwrap();
        assert_eq!(read, cache);
        assert_eq!(read.covered, vec![Span::new(day(1), day(5))]);
        assert_eq!(read.bars[&day(2)].close, Money::parse("160.1").unwrap());
        let content = std::fs::read_to_string(&path).unwrap();
        assert!(content.contains(r#""close":"171.48""#), "{content}");
        assert!(content.contains(r#""volume":"12.00000001""#), "{content}");
        assert!(content.contains(r#"["2024-01-01T00:00:00Z","2024-01-05T00:00:00Z"]"#));
        // No temporary file is left behind.
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }

    #[test]
    fn a_missing_file_is_an_empty_cache_and_a_corrupt_one_says_to_delete_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("BTCUSDT_1h.json");
        assert_eq!(load(&path).unwrap(), Cache::default());
        std::fs::write(&path, "{\"covered\": [], \"bars\": [").unwrap();
        let err = load(&path).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("BTCUSDT_1h.json"), "{message}");
        assert!(message.contains("delete it"), "{message}");
        std::fs::write(
            &path,
            r#"{"covered": [], "bars": [{"ts": "2024-01-01T00:00:00Z", "open": "1", "high": "0.5", "low": "1", "close": "1", "volume": "0"}]}"#,
        )
        .unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("high"));
    }

    #[test]
    fn bars_in_is_half_open() {
        let mut cache = Cache::default();
        cache.record(
            Span::new(day(1), day(4)),
            vec![bar(1, "150"), bar(2, "150"), bar(3, "150")],
        );
        let inside: Vec<_> = cache
            .bars_in(Span::new(day(2), day(3)))
            .iter()
            .map(|b| b.ts)
            .collect();
        assert_eq!(inside, vec![day(2)]);
    }
}
