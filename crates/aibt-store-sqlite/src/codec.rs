//! How aibt's values are written to and read from SQLite columns.
//!
//! Decimals are TEXT at their type's fixed scale, so what is read is exactly what was written.
//! Timestamps are RFC 3339 UTC text with six fractional digits: fixed width, so text order is
//! time order and range queries work on the raw column.

use aibt_core::Lot;
use aibt_store::sql::{BindRow, Dialect, Fixed, Query, ReadRow, SqlValue, Table, WriteRow};
use aibt_store::{Result, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Row;
use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};

/// The SQL this backend speaks: `aibt_store::sql` builds its statements with `?` markers.
pub const DIALECT: Dialect = Dialect::Sqlite;

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

/// The largest mantissa stored as an integer: 18 digits, the bound the migrations' encoders
/// use, so the views' `abs()` never overflows.
const MAX_INTEGER_MANTISSA: i128 = 999_999_999_999_999_999;

/// A decimal of the compact tables (snapshot steps, bar rows): its mantissa at `scale` places
/// when that has at most 18 digits, else the seed's text.
pub fn mantissa_value(
    mantissa: i128,
    scale: u32,
    text: &mut aibt_core::decimal::FixedText,
) -> Value {
    if mantissa.abs() <= MAX_INTEGER_MANTISSA {
        Value::Integer(mantissa as i64)
    } else {
        Value::Text(text.format(mantissa, scale).to_string())
    }
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
            StoreError::exists(entity, id)
        }
        other => db_error(other),
    }
}

/// A parameter of a built statement, bound without copying its text.
pub struct Param<'a>(pub &'a SqlValue);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            SqlValue::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            SqlValue::Int(n) => ToSqlOutput::Owned(Value::Integer(*n)),
            SqlValue::Time(time) => ToSqlOutput::Owned(Value::Text(ts(*time))),
        })
    }
}

/// The parameters of a built statement, for rusqlite.
pub fn params(query: &Query) -> impl rusqlite::Params + '_ {
    rusqlite::params_from_iter(query.params.iter().map(Param))
}

/// Reads columns of one row by position, naming the table and column in every error.
pub struct Reader<'a, 'b> {
    pub row: &'a Row<'b>,
    pub table: &'static Table,
}

impl ReadRow for Reader<'_, '_> {
    fn table(&self) -> &'static Table {
        self.table
    }

    fn text(&self, index: usize) -> Result<String> {
        self.row.get::<_, String>(index).map_err(db_error)
    }

    fn opt_text(&self, index: usize) -> Result<Option<String>> {
        self.row.get::<_, Option<String>>(index).map_err(db_error)
    }

    fn int(&self, index: usize) -> Result<i64> {
        self.row.get::<_, i64>(index).map_err(db_error)
    }

    fn opt_int(&self, index: usize) -> Result<Option<i64>> {
        self.row.get::<_, Option<i64>>(index).map_err(db_error)
    }

    fn count(&self, index: usize) -> Result<i64> {
        self.int(index)
    }

    fn bool(&self, index: usize) -> Result<bool> {
        Ok(self.int(index)? != 0)
    }

    /// Decimals are TEXT at their scale: parsing is exact.
    fn decimal<T: Fixed>(&self, index: usize) -> Result<T> {
        self.label(index)
    }

    fn opt_decimal<T: Fixed>(&self, index: usize) -> Result<Option<T>> {
        self.opt_label(index)
    }

    fn time(&self, index: usize) -> Result<DateTime<Utc>> {
        let text = self.text(index)?;
        parse_time(&text).map_err(|e| self.corrupt(index, &text, e))
    }

    fn opt_time(&self, index: usize) -> Result<Option<DateTime<Utc>>> {
        match self.opt_text(index)? {
            None => Ok(None),
            Some(text) => parse_time(&text)
                .map(Some)
                .map_err(|e| self.corrupt(index, &text, e)),
        }
    }

    fn opt_date(&self, index: usize) -> Result<Option<NaiveDate>> {
        self.opt_label(index)
    }

    fn json(&self, index: usize) -> Result<serde_json::Value> {
        let text = self.text(index)?;
        serde_json::from_str(&text).map_err(|e| self.corrupt(index, &text, e))
    }

    fn opt_json(&self, index: usize) -> Result<Option<serde_json::Value>> {
        match self.opt_text(index)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| self.corrupt(index, &text, e)),
        }
    }

    fn lots(&self, index: usize) -> Result<Vec<Lot>> {
        let text = self.text(index)?;
        serde_json::from_str(&text).map_err(|e| self.corrupt(index, &text, e))
    }
}

/// The values of one row, in column order, as SQLite stores them: decimals, times and JSON
/// as TEXT, booleans as 0 or 1.
pub struct Values(pub Vec<Value>);

impl Values {
    pub fn of<T: WriteRow>(row: &T) -> Result<Vec<Value>> {
        let mut values = Values(Vec::with_capacity(T::table().columns.len()));
        row.bind(&mut values)?;
        Ok(values.0)
    }
}

fn text_or_null<T: ToString>(value: Option<T>) -> Value {
    value.map_or(Value::Null, |v| Value::Text(v.to_string()))
}

impl BindRow for Values {
    fn text(&mut self, value: &str) {
        self.0.push(Value::Text(value.to_string()));
    }

    fn opt_text(&mut self, value: Option<&str>) {
        self.0.push(text_or_null(value));
    }

    fn label(&mut self, value: &'static str) {
        self.text(value);
    }

    fn opt_label(&mut self, value: Option<&'static str>) {
        self.opt_text(value);
    }

    fn int(&mut self, value: i64) -> Result<()> {
        self.0.push(Value::Integer(value));
        Ok(())
    }

    fn opt_int(&mut self, value: Option<i64>) -> Result<()> {
        self.0.push(value.map_or(Value::Null, Value::Integer));
        Ok(())
    }

    fn bool(&mut self, value: bool) {
        self.0.push(Value::Integer(i64::from(value)));
    }

    fn decimal<T: Fixed>(&mut self, value: T) {
        self.0.push(Value::Text(value.to_string()));
    }

    fn opt_decimal<T: Fixed>(&mut self, value: Option<T>) {
        self.0.push(text_or_null(value));
    }

    fn time(&mut self, value: DateTime<Utc>) {
        self.0.push(Value::Text(ts(value)));
    }

    fn opt_time(&mut self, value: Option<DateTime<Utc>>) {
        self.0
            .push(value.map_or(Value::Null, |t| Value::Text(ts(t))));
    }

    fn opt_date(&mut self, value: Option<NaiveDate>) {
        self.0.push(text_or_null(value));
    }

    fn json(&mut self, value: &serde_json::Value) {
        self.0.push(Value::Text(json(value)));
    }

    fn opt_json(&mut self, value: Option<&serde_json::Value>) {
        self.0
            .push(value.map_or(Value::Null, |v| Value::Text(json(v))));
    }

    fn lots(&mut self, value: &[Lot]) -> Result<()> {
        self.0.push(Value::Text(lots(value)?));
        Ok(())
    }
}

pub fn parse_time(text: &str) -> std::result::Result<DateTime<Utc>, chrono::ParseError> {
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
    fn mantissas_beyond_eighteen_digits_stay_text() {
        let mut fixed = aibt_core::decimal::FixedText::new();
        assert_eq!(mantissa_value(-5, 8, &mut fixed), Value::Integer(-5));
        assert_eq!(
            mantissa_value(MAX_INTEGER_MANTISSA, 8, &mut fixed),
            Value::Integer(999_999_999_999_999_999)
        );
        assert_eq!(
            mantissa_value(-MAX_INTEGER_MANTISSA - 1, 8, &mut fixed),
            Value::Text("-10000000000.00000000".into())
        );
    }

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
