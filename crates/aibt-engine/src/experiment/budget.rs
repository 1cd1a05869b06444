//! An experiment's budget, split among its model tasks by their decisions: each task pauses
//! before a call would pass its share, so the experiment never spends more than its budget,
//! and a task with more decisions may spend more. Once no task is left running, the
//! experiment shows PAUSED with the reason; resumed with a new budget, every model task gets
//! its share of that one.

use aibt_store::{SeriesKey, Store};
use chrono::{DateTime, Utc};

use crate::budget::Budget;
use crate::error::Result;

/// The decisions of a task deciding every `interval` bars of `series` in `[start, end]`.
pub async fn decisions_in(
    store: &dyn Store,
    series: &SeriesKey,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    interval: i64,
) -> Result<u64> {
    let bars = u64::try_from(store.count_bars(series, start, end).await?).unwrap_or(0);
    Ok(bars.div_ceil(u64::try_from(interval).unwrap_or(1).max(1)))
}

/// `budget` split in proportion to `decisions`, one share per task.
pub fn shares(budget: &Budget, decisions: &[u64]) -> Result<Vec<Budget>> {
    let whole: u64 = decisions.iter().sum();
    decisions
        .iter()
        .map(|part| budget.share(*part, whole))
        .collect()
}
