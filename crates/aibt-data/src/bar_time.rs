//! A bar's time as files write it: ISO dates and date-times, epoch seconds or milliseconds
//! (aibt's own forms, `aibt_core::time::parse_timestamp`), and the forms exports add: slashes
//! or dots (`2024/1/2 09:35`, MetaTrader's `2024.01.02`), a compact `20240102`, Chinese
//! `2024年1月2日`; a separate time of day as `09:35`, `09:35:00` or 通达信's `0935`. Times
//! without a zone are UTC, as everywhere in aibt.

use aibt_core::time::{TimeParseError, parse_timestamp};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// The time of one bar.
pub fn parse_bar_time(text: &str) -> Result<DateTime<Utc>, TimeParseError> {
    let trimmed = text.trim();
    // Eight digits are a date, never epoch seconds of 1970 (no bar file means those), so an
    // impossible one is refused rather than read as 1970.
    if trimmed.len() == 8 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(trimmed, "%Y%m%d")
            .map(aibt_core::time::start_of_day)
            .map_err(|_| TimeParseError {
                input: text.to_string(),
            });
    }
    if let Some(at) = parse_export_form(trimmed) {
        return Ok(at.and_utc());
    }
    parse_timestamp(trimmed)
}

/// A date column's value joined with a time-of-day column's.
pub fn parse_date_and_time(date: &str, time: &str) -> Result<DateTime<Utc>, String> {
    let day = parse_bar_time(date).map_err(|e| e.to_string())?;
    let time_of_day = parse_time_of_day(time).ok_or_else(|| {
        format!(
            "{:?} is not a time of day (09:35, 09:35:00 or 0935)",
            time.trim()
        )
    })?;
    Ok(day.date_naive().and_time(time_of_day).and_utc())
}

/// `09:35`, `09:35:00`, `9:35`, `0935`, `935` or `093500`.
pub fn parse_time_of_day(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    if text.contains(':') {
        return NaiveTime::parse_from_str(text, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
            .ok();
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number: u32 = text.parse().ok()?;
    match text.len() {
        3 | 4 => NaiveTime::from_hms_opt(number / 100, number % 100, 0),
        6 => NaiveTime::from_hms_opt(number / 10_000, number / 100 % 100, number % 100),
        _ => None,
    }
}

fn parse_export_form(text: &str) -> Option<NaiveDateTime> {
    if let Some(rest) = text.strip_suffix('日') {
        let (year, rest) = rest.split_once('年')?;
        let (month, day) = rest.split_once('月')?;
        return NaiveDate::from_ymd_opt(
            year.trim().parse().ok()?,
            month.trim().parse().ok()?,
            day.trim().parse().ok()?,
        )
        .and_then(|d| d.and_hms_opt(0, 0, 0));
    }
    if !text.contains(['/', '.']) || text.starts_with(|c: char| !c.is_ascii_digit()) {
        return None;
    }
    for separator in ['/', '.'] {
        let date_format = format!("%Y{separator}%m{separator}%d");
        for time_format in ["", " %H:%M:%S", " %H:%M", "T%H:%M:%S", "T%H:%M"] {
            let format = format!("{date_format}{time_format}");
            if time_format.is_empty() {
                if let Ok(date) = NaiveDate::parse_from_str(text, &format) {
                    return date.and_hms_opt(0, 0, 0);
                }
            } else if let Ok(at) = NaiveDateTime::parse_from_str(text, &format) {
                return Some(at);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> String {
        aibt_core::time::format_timestamp(parse_bar_time(text).unwrap())
    }

    #[test]
    fn export_forms_are_read_as_utc() {
        assert_eq!(at("2024/1/2"), "2024-01-02T00:00:00Z");
        assert_eq!(at("2024/01/02 09:35"), "2024-01-02T09:35:00Z");
        assert_eq!(at("2024.01.02 09:35:30"), "2024-01-02T09:35:30Z");
        assert_eq!(at("20240102"), "2024-01-02T00:00:00Z");
        assert_eq!(at("2024年1月2日"), "2024-01-02T00:00:00Z");
        assert_eq!(at("2024-01-02"), "2024-01-02T00:00:00Z");
        assert_eq!(at("1514764800"), "2018-01-01T00:00:00Z");
        assert!(parse_bar_time("2024/13/02").is_err());
        assert!(parse_bar_time("20241302").is_err());
    }

    #[test]
    fn times_of_day_join_their_date() {
        let joined = |d: &str, t: &str| {
            aibt_core::time::format_timestamp(parse_date_and_time(d, t).unwrap())
        };
        assert_eq!(joined("2024.01.02", "09:35"), "2024-01-02T09:35:00Z");
        assert_eq!(joined("2024/01/02", "0935"), "2024-01-02T09:35:00Z");
        assert_eq!(joined("20240102", "935"), "2024-01-02T09:35:00Z");
        assert_eq!(joined("2024-01-02", "150000"), "2024-01-02T15:00:00Z");
        assert!(parse_date_and_time("2024-01-02", "25:00").is_err());
        assert!(parse_time_of_day("2024-01-02").is_none());
    }
}
