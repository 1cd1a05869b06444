//! Reading a task's records and a series' bars whole, a page at a time.

use aibt_core::Bar;
use aibt_store::{BarRange, LocalDecision, RecordQuery, SeriesKey, Store};
use chrono::{DateTime, Utc};

use crate::error::Result;

/// Every decision of a task, in bar order. (A model task's decisions are a few thousand at
/// most; a rule task's are only those that traded.)
pub async fn all_decisions(store: &dyn Store, task_id: &str) -> Result<Vec<LocalDecision>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_decisions(
                task_id,
                &RecordQuery {
                    limit: 1000,
                    cursor: cursor.clone(),
                    ..RecordQuery::default()
                },
            )
            .await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// Every bar of a series within `[from, to]` (either end open when `None`).
pub async fn read_bars(
    store: &dyn Store,
    series: &SeriesKey,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<Bar>> {
    const CHUNK: u32 = 50_000;
    let mut bars = Vec::new();
    let mut after = None;
    loop {
        let chunk = store
            .bars(
                series,
                BarRange {
                    from,
                    to,
                    after,
                    limit: Some(CHUNK),
                },
            )
            .await?;
        let full = chunk.len() == CHUNK as usize;
        after = chunk.last().map(|b| b.ts);
        bars.extend(chunk);
        if !full {
            return Ok(bars);
        }
    }
}
