//! How aibt's values are written to and read from SQLite columns.
//!
//! Decimals are TEXT at their type's fixed scale, so what is read is exactly what was written.
//! Timestamps are RFC 3339 UTC text with six fractional digits: fixed width, so text order is
//! time order and range queries work on the raw column.

use std::str::FromStr;

use aibt_core::Lot;
use aibt_store::{Result, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::Row;

pub fn ts(time: DateTime<Utc>) -> String {
    let mut text = TimeText::new();
    text.format(time).to_string()
}

/// A stack buffer for the stored timestamp form, `YYYY-MM-DDTHH:MM:SS.ffffffZ`: written digit
/// by digit, as a long backtest writes one per snapshot.
pub struct TimeText {
    bytes: [u8; 27],
}

impl TimeText {
    pub fn new() -> TimeText {
        TimeText {
            bytes: *b"0000-00-00T00:00:00.000000Z",
        }
    }

    pub fn format(&mut self, time: DateTime<Utc>) -> &str {
        use chrono::{Datelike, Timelike};
        let year = time.year();
        if !(0..=9999).contains(&year) {
            // Outside four-digit years the fixed layout cannot hold the date; chrono's own
            // (variable-width) form is still exact.
            return "";
        }
        let micros = time.timestamp_subsec_micros().min(999_999);
        let mut put = |at: usize, width: usize, mut value: u32| {
            for i in (at..at + width).rev() {
                self.bytes[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year as u32);
        put(5, 2, time.month());
        put(8, 2, time.day());
        put(11, 2, time.hour());
        put(14, 2, time.minute());
        put(17, 2, time.second().min(59));
        put(20, 6, micros);
        std::str::from_utf8(&self.bytes).unwrap_or("")
    }
}

impl Default for TimeText {
    fn default() -> Self {
        Self::new()
    }
}

pub fn opt_ts(time: Option<DateTime<Utc>>) -> Option<String> {
    time.map(ts)
}

pub fn lots(lots: &[Lot]) -> Result<String> {
    serde_json::to_string(lots).map_err(|e| StoreError::Database(format!("encoding lots: {e}")))
}

pub fn json(value: &serde_json::Value) -> String {
    value.to_string()
}

pub fn db_error(error: rusqlite::Error) -> StoreError {
    StoreError::Database(error.to_string())
}

/// Maps a unique-constraint failure to a conflict that names the entity. The id is only
/// copied when there is an error: this wraps every insert of a long backtest.
pub fn insert_error<'a>(
    entity: &'static str,
    id: &'a str,
) -> impl FnOnce(rusqlite::Error) -> StoreError + 'a {
    move |error| match error {
        rusqlite::Error::SqliteFailure(code, _)
            if code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            StoreError::Conflict(format!("{entity} {id:?} already exists"))
        }
        other => db_error(other),
    }
}

/// Reads columns of one row by position, naming the table and column in every error.
pub struct Reader<'a, 'b> {
    pub row: &'a Row<'b>,
    pub table: &'static str,
    pub columns: &'static [&'static str],
}

impl Reader<'_, '_> {
    fn name(&self, index: usize) -> &'static str {
        self.columns.get(index).copied().unwrap_or("?")
    }

    fn corrupt(&self, index: usize, value: &str, reason: impl ToString) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            column: self.name(index),
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }

    pub fn text(&self, index: usize) -> Result<String> {
        self.row.get::<_, String>(index).map_err(db_error)
    }

    pub fn opt_text(&self, index: usize) -> Result<Option<String>> {
        self.row.get::<_, Option<String>>(index).map_err(db_error)
    }

    pub fn int(&self, index: usize) -> Result<i64> {
        self.row.get::<_, i64>(index).map_err(db_error)
    }

    pub fn opt_int(&self, index: usize) -> Result<Option<i64>> {
        self.row.get::<_, Option<i64>>(index).map_err(db_error)
    }

    pub fn bool(&self, index: usize) -> Result<bool> {
        Ok(self.int(index)? != 0)
    }

    /// Any type that parses from its stored text: decimals and the seed's enums.
    pub fn parsed<T>(&self, index: usize) -> Result<T>
    where
        T: FromStr,
        T::Err: ToString,
    {
        let text = self.text(index)?;
        text.parse()
            .map_err(|e: T::Err| self.corrupt(index, &text, e))
    }

    pub fn opt_parsed<T>(&self, index: usize) -> Result<Option<T>>
    where
        T: FromStr,
        T::Err: ToString,
    {
        match self.opt_text(index)? {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|e: T::Err| self.corrupt(index, &text, e)),
        }
    }

    pub fn time(&self, index: usize) -> Result<DateTime<Utc>> {
        let text = self.text(index)?;
        parse_time(&text).map_err(|e| self.corrupt(index, &text, e))
    }

    pub fn opt_time(&self, index: usize) -> Result<Option<DateTime<Utc>>> {
        match self.opt_text(index)? {
            None => Ok(None),
            Some(text) => parse_time(&text)
                .map(Some)
                .map_err(|e| self.corrupt(index, &text, e)),
        }
    }

    pub fn json(&self, index: usize) -> Result<serde_json::Value> {
        let text = self.text(index)?;
        serde_json::from_str(&text).map_err(|e| self.corrupt(index, &text, e))
    }

    pub fn opt_json(&self, index: usize) -> Result<Option<serde_json::Value>> {
        match self.opt_text(index)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| self.corrupt(index, &text, e)),
        }
    }

    pub fn lots(&self, index: usize) -> Result<Vec<Lot>> {
        let text = self.text(index)?;
        serde_json::from_str(&text).map_err(|e| self.corrupt(index, &text, e))
    }
}

fn parse_time(text: &str) -> std::result::Result<DateTime<Utc>, chrono::ParseError> {
    if let Some(time) = parse_stored_time(text.as_bytes()) {
        return Ok(time);
    }
    DateTime::parse_from_rfc3339(text).map(|time| time.with_timezone(&Utc))
}

/// The form aibt stores, read without a general parser; anything else returns `None`.
fn parse_stored_time(text: &[u8]) -> Option<DateTime<Utc>> {
    if text.len() != 27
        || text[4] != b'-'
        || text[10] != b'T'
        || text[19] != b'.'
        || text[26] != b'Z'
    {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u32> {
        text[from..to].iter().try_fold(0u32, |acc, byte| {
            byte.is_ascii_digit()
                .then(|| acc * 10 + u32::from(byte - b'0'))
        })
    };
    let date =
        chrono::NaiveDate::from_ymd_opt(number(0, 4)? as i32, number(5, 7)?, number(8, 10)?)?;
    let time = chrono::NaiveTime::from_hms_micro_opt(
        number(11, 13)?,
        number(14, 16)?,
        number(17, 19)?,
        number(20, 26)?,
    )?;
    Some(date.and_time(time).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn stored_times_round_trip_through_the_fast_forms() {
        for time in [
            Utc.timestamp_opt(0, 0).unwrap(),
            Utc.timestamp_opt(1_700_000_000, 123_456_000).unwrap(),
            Utc.with_ymd_and_hms(2004, 8, 19, 23, 59, 59).unwrap(),
        ] {
            let text = ts(time);
            assert_eq!(text, time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
            assert_eq!(parse_time(&text).unwrap(), time);
        }
        // Other RFC 3339 forms still read (values written by other programs).
        assert_eq!(
            parse_time("2024-01-31T09:30:00.250Z").unwrap(),
            Utc.timestamp_opt(1_706_693_400, 250_000_000).unwrap()
        );
    }
}
