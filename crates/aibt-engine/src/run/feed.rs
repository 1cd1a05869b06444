//! The bars of a run: the history a source needs before the period, then the period itself,
//! a chunk at a time.

use std::sync::Arc;

use aibt_core::Bar;
use aibt_store::{BarRange, SeriesKey, Store};
use chrono::{DateTime, Utc};

use crate::error::{EngineError, Result};

type Reading = tokio::task::JoinHandle<aibt_store::Result<Vec<Bar>>>;

/// The period's bars, in order.
pub(super) enum Feed {
    /// Read from the store in chunks, the next chunk while this one is used, so a run's
    /// memory stays flat however long its period.
    Chunked {
        store: Arc<dyn Store>,
        series: SeriesKey,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        chunk: u32,
        next: Option<Reading>,
        current: Vec<Bar>,
        task_id: String,
    },
    /// Already in memory from `start` on (a model's source holds every bar for its prompts).
    Loaded {
        bars: Arc<Vec<Bar>>,
        start: usize,
        served: bool,
    },
}

impl Feed {
    pub(super) fn chunked(
        store: Arc<dyn Store>,
        series: SeriesKey,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        chunk: u32,
        task_id: &str,
    ) -> Feed {
        let mut feed = Feed::Chunked {
            store,
            series,
            from,
            to,
            chunk: chunk.max(1),
            next: None,
            current: Vec::new(),
            task_id: task_id.to_string(),
        };
        feed.read_after(None);
        feed
    }

    pub(super) fn loaded(bars: Arc<Vec<Bar>>, start: usize) -> Feed {
        Feed::Loaded {
            bars,
            start,
            served: false,
        }
    }

    /// Starts reading the chunk after `after` beside the simulation.
    fn read_after(&mut self, after: Option<DateTime<Utc>>) {
        if let Feed::Chunked {
            store,
            series,
            from,
            to,
            chunk,
            next,
            ..
        } = self
        {
            let (store, series) = (store.clone(), series.clone());
            // After the first chunk only `after` bounds it from below: given both lower
            // bounds, SQLite seeks to `from` and filters by `after`, so every chunk would
            // walk the period from its start again (quadratic: ten million bars ran at a
            // seventh of the speed of three hundred thousand). `after` is a bar of the
            // period, so it implies `from`.
            let range = BarRange {
                from: if after.is_some() { None } else { Some(*from) },
                to: Some(*to),
                after,
                limit: Some(*chunk),
            };
            *next = Some(tokio::spawn(
                async move { store.bars(&series, range).await },
            ));
        }
    }

    /// The next bars of the period; `None` after the last.
    pub(super) async fn next_chunk(&mut self) -> Result<Option<&[Bar]>> {
        match self {
            Feed::Loaded {
                bars,
                start,
                served,
            } => {
                if *served {
                    return Ok(None);
                }
                *served = true;
                Ok(Some(&bars[*start..]))
            }
            Feed::Chunked { next, task_id, .. } => {
                let Some(reading) = next.take() else {
                    return Ok(None);
                };
                let chunk = reading.await.map_err(|e| EngineError::Run {
                    task_id: task_id.clone(),
                    reason: format!("reading bars: {e}"),
                })??;
                let full = matches!(self, Feed::Chunked { chunk: size, .. } if chunk.len() == *size as usize);
                if full {
                    self.read_after(chunk.last().map(|bar| bar.ts));
                }
                let Feed::Chunked { current, .. } = self else {
                    return Ok(None);
                };
                *current = chunk;
                Ok((!current.is_empty()).then_some(current.as_slice()))
            }
        }
    }
}
