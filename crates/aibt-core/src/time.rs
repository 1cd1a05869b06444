//! Reading the timestamps people and data files write.
//!
//! One parser serves CSV import, the CLI's `--start`/`--end` and the API, so a date that works
//! in one place works in all of them. Times without a zone are taken as UTC labels: several
//! public data sets (the `INDEX2006_*` files among them) do not document their zone, and
//! guessing a local one would silently shift every bar.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};

/// Text that is none of the accepted timestamp forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{input:?} is not a timestamp: expected an ISO date (2024-01-31), an ISO date-time \
     (2024-01-31T09:30:00Z, with or without a zone) or epoch seconds or milliseconds"
)]
pub struct TimeParseError {
    pub input: String,
}

/// Epoch values at or above this are milliseconds: as seconds they would lie after the year
/// 5000, as milliseconds they start in 1973.
const EPOCH_MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// The years a timestamp may fall in: those of the fixed-width form aibt stores and prints
/// (`YYYY-MM-DDTHH:MM:SS…Z`), whose text order is time order.
const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// Parses an ISO date, an ISO date-time (zone optional, `T` or space), or epoch seconds or
/// milliseconds, in the years 1 to 9999.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, TimeParseError> {
    use chrono::Datelike;
    let time = parse_any(text)?;
    if YEARS.contains(&time.year()) {
        Ok(time)
    } else {
        Err(TimeParseError {
            input: text.to_string(),
        })
    }
}

fn parse_any(text: &str) -> Result<DateTime<Utc>, TimeParseError> {
    let input = text.trim();
    let error = || TimeParseError {
        input: text.to_string(),
    };
    if input.is_empty() {
        return Err(error());
    }
    if input.bytes().all(|b| b.is_ascii_digit()) {
        let value: i64 = input.parse().map_err(|_| error())?;
        let parsed = if value >= EPOCH_MILLIS_THRESHOLD {
            Utc.timestamp_millis_opt(value).single()
        } else {
            Utc.timestamp_opt(value, 0).single()
        };
        return parsed.ok_or_else(error);
    }
    if let Ok(with_zone) = DateTime::parse_from_rfc3339(input) {
        return Ok(with_zone.with_timezone(&Utc));
    }
    let spaced = input.replacen(' ', "T", 1);
    if let Ok(with_zone) = DateTime::parse_from_rfc3339(&spaced) {
        return Ok(with_zone.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(&spaced, format) {
            return Ok(naive.and_utc());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(input, "%Y-%m-%d") {
        return date
            .and_hms_opt(0, 0, 0)
            .map(|naive| naive.and_utc())
            .ok_or_else(error);
    }
    Err(error())
}

/// The current time, to the microsecond: the precision both databases keep, so a time that
/// was written reads back equal.
pub fn now() -> DateTime<Utc> {
    truncate_to_micros(Utc::now())
}

/// Drops nanoseconds below the microsecond.
pub fn truncate_to_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    let micros = time.timestamp_micros();
    Utc.timestamp_micros(micros).single().unwrap_or(time)
}

/// The form aibt prints timestamps in: RFC 3339 in UTC with a `Z`, fractions only when present.
pub fn format_timestamp(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The first moment of a day: a period that starts on a date starts here.
pub fn start_of_day(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// The last moment of a day (to the microsecond both databases keep): a period that ends on a
/// date includes the whole of that day. `None` only for the last day chrono knows.
pub fn end_of_day(date: NaiveDate) -> Option<DateTime<Utc>> {
    let next = date.succ_opt()?;
    Some(start_of_day(next) - chrono::Duration::microseconds(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> String {
        format_timestamp(parse_timestamp(text).unwrap())
    }

    #[test]
    fn refuses_years_the_stored_form_cannot_hold() {
        // Found by fuzzing: chrono's %Y reads "-006" as the year -6, which aibt would print
        // as "-0006-…", a text that neither parses back nor sorts among the others.
        for text in ["-006-01-02 09:01:00", "10000-01-01", "9000000000000000"] {
            assert!(parse_timestamp(text).is_err(), "{text:?} accepted");
        }
        assert_eq!(ts("0001-01-01"), "0001-01-01T00:00:00Z");
        assert_eq!(ts("9999-12-31T23:59:59Z"), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn accepts_the_forms_of_the_bundled_data() {
        assert_eq!(ts("2017-08-17"), "2017-08-17T00:00:00Z");
        assert_eq!(ts("2018-04-04T00:01:00Z"), "2018-04-04T00:01:00Z");
        assert_eq!(ts("2006-01-02T09:01:00"), "2006-01-02T09:01:00Z");
        assert_eq!(ts("2006-01-02 09:01:00"), "2006-01-02T09:01:00Z");
        assert_eq!(ts("2006-01-02T09:01"), "2006-01-02T09:01:00Z");
        assert_eq!(ts("2024-01-31T09:30:00+02:00"), "2024-01-31T07:30:00Z");
        assert_eq!(ts("2024-01-31T09:30:00.250Z"), "2024-01-31T09:30:00.250Z");
    }

    #[test]
    fn epoch_seconds_and_milliseconds_are_told_apart_by_size() {
        assert_eq!(ts("1514764800"), "2018-01-01T00:00:00Z");
        assert_eq!(ts("1514764800000"), "2018-01-01T00:00:00Z");
    }

    #[test]
    fn a_day_runs_from_midnight_to_its_last_microsecond() {
        let date = NaiveDate::from_ymd_opt(2012, 2, 29).unwrap();
        assert_eq!(format_timestamp(start_of_day(date)), "2012-02-29T00:00:00Z");
        assert_eq!(
            end_of_day(date).map(format_timestamp).as_deref(),
            Some("2012-02-29T23:59:59.999999Z")
        );
        assert_eq!(end_of_day(NaiveDate::MAX), None);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "31/01/2024",
            "2024-01-31T25:00:00",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }
}
