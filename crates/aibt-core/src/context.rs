//! Dated context (a trend label, a sentiment score, a note) and the one rule of when a
//! decision may see it.
//!
//! An item is dated by the day it describes. Its facts are only complete once that day has
//! ended, so it becomes visible at the end of its day (midnight UTC after it), or at its
//! publication time when it carries one (earlier for news published during the day, later for
//! a figure published after it). A decision on a bar sees exactly the items visible at the
//! bar's time: a daily decision on day D sees items up to D − 1, "yesterday's trend" at most.

use chrono::{DateTime, NaiveDate, Utc};

/// When an item dated `date` becomes visible.
pub fn visible_at(date: NaiveDate, published_at: Option<DateTime<Utc>>) -> DateTime<Utc> {
    published_at.unwrap_or_else(|| {
        date.succ_opt()
            .unwrap_or(date)
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc()
    })
}

/// How many of `visible` (the visibility times of items, ascending) a decision on the bar at
/// `bar_time` may see: they are the first ones.
pub fn visible_count(visible: &[DateTime<Utc>], bar_time: DateTime<Utc>) -> usize {
    visible.partition_point(|at| *at <= bar_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn an_item_is_visible_from_the_end_of_its_day_or_its_publication() {
        assert_eq!(
            visible_at(day("2025-01-01"), None),
            at("2025-01-02T00:00:00Z")
        );
        let morning = at("2025-01-01T09:30:00Z");
        assert_eq!(visible_at(day("2025-01-01"), Some(morning)), morning);
    }

    #[test]
    fn a_daily_decision_sees_yesterday_at_most() {
        let items = [
            visible_at(day("2025-01-01"), None),
            visible_at(day("2025-01-02"), None),
            visible_at(day("2025-01-03"), None),
        ];
        // The daily bar of 2025-01-03 opens at its midnight: the items of the 1st and 2nd.
        assert_eq!(visible_count(&items, at("2025-01-03T00:00:00Z")), 2);
        // A minute bar late on the 3rd still does not see the 3rd.
        assert_eq!(visible_count(&items, at("2025-01-03T23:59:00Z")), 2);
        assert_eq!(visible_count(&items, at("2025-01-04T00:00:00Z")), 3);
        assert_eq!(visible_count(&items, at("2024-12-31T00:00:00Z")), 0);
    }
}
