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

/// What a cursor of a time-ordered list looks like: the sort key of a page's last row as
/// `MICROS|id`, the time in microseconds since 1970 (16 digits reach 1653 to 2286). Any text of
/// this form is a position in the list, so the server takes any, not only those it issued;
/// the API documents this pattern on every such cursor.
pub const TIME_CURSOR_PATTERN: &str = r"^-?[0-9]{1,16}\|.*$";

/// The cursor of a row of a time-ordered list (see [`TIME_CURSOR_PATTERN`]).
pub fn time_cursor(time: DateTime<Utc>, id: &str) -> String {
    format!("{}|{id}", time.timestamp_micros())
}

/// Reads a cursor of the form [`TIME_CURSOR_PATTERN`] describes.
pub fn parse_time_cursor(cursor: &str) -> Result<(DateTime<Utc>, String)> {
    let bad = || StoreError::Invalid {
        field: "cursor",
        reason: format!("{cursor:?} is not MICROS|ID (the next_cursor of a page)"),
    };
    let (micros, id) = cursor.split_once('|').ok_or_else(bad)?;
    let digits = micros.strip_prefix('-').unwrap_or(micros);
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let time = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok((time, id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_cursors_read_back_and_refuse_other_text() {
        let at = DateTime::parse_from_rfc3339("1900-03-04T05:06:07.123456Z")
            .expect("time")
            .with_timezone(&Utc);
        let cursor = time_cursor(at, "task-1|x");
        assert_eq!(cursor, "-2203613632876544|task-1|x");
        assert_eq!(
            parse_time_cursor(&cursor).expect("parsed"),
            (at, "task-1|x".to_string())
        );
        assert_eq!(
            parse_time_cursor("9999999999999999|")
                .expect("the latest position")
                .0,
            DateTime::from_timestamp_micros(9_999_999_999_999_999).expect("in range")
        );
        for bad in [
            "",
            "12",
            "1.5|a",
            "2024-01-01T00:00:00Z|a",
            "12345678901234567|a",
            "-|a",
        ] {
            assert!(parse_time_cursor(bad).is_err(), "{bad:?} accepted");
        }
    }
}
