//! What a list asks for (filters, a page size, the cursor of the page before) and what it
//! answers: a page and the cursor of the next one. Cursors are keyset cursors, the sort key of
//! a page's last row, so a page costs the same however deep into a list it is.

use aibt_core::{TaskStatus, TradeAction};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Result, StoreError};

/// A window of a series, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BarRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only bars strictly after this time (a cursor for reading in chunks).
    pub after: Option<DateTime<Utc>>,
    pub limit: Option<u32>,
}

/// A page of a list and the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Filters and paging of the task list (newest first).
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    pub status: Option<TaskStatus>,
    pub stock_symbol: Option<String>,
    pub account_id: Option<String>,
    pub limit: u32,
    pub cursor: Option<String>,
}

/// Filters and paging of a task's decisions, trades or snapshots (oldest first).
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Decisions: `decision_result`; trades: `trade_action`.
    pub action: Option<TradeAction>,
    pub limit: u32,
    pub cursor: Option<String>,
}

/// Filters of the account list.
#[derive(Debug, Clone, Default)]
pub struct AccountQuery {
    /// Include the working accounts of task runs (hidden by default).
    pub include_task_accounts: bool,
    pub limit: u32,
    pub cursor: Option<String>,
}

/// Appends the one row that tells whether another page follows, and builds its cursor.
pub fn into_page<T>(mut items: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let limit = limit as usize;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor_of)
    } else {
        None
    };
    Page { items, next_cursor }
}

/// Page sizes are clamped so that no request can ask a backend for an unbounded read.
pub fn clamp_limit(limit: u32) -> u32 {
    match limit {
        0 => 100,
        n => n.min(10_000),
    }
}

/// Cursors of time-ordered lists: the sort key of the last row, `time|id`.
pub fn time_cursor(time: DateTime<Utc>, id: &str) -> String {
    format!("{}|{id}", aibt_core::time::format_timestamp(time))
}

/// Reads a cursor made by [`time_cursor`].
pub fn parse_time_cursor(cursor: &str) -> Result<(DateTime<Utc>, String)> {
    let bad = || StoreError::Invalid {
        field: "cursor",
        reason: format!("{cursor:?} is not a cursor this server issued"),
    };
    let (time, id) = cursor.split_once('|').ok_or_else(bad)?;
    let time = aibt_core::time::parse_timestamp(time).map_err(|_| bad())?;
    Ok((time, id.to_string()))
}
