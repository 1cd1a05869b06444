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
    time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
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

/// Maps a unique-constraint failure to a conflict that names the entity.
pub fn insert_error(entity: &'static str, id: &str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    let id = id.to_string();
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
    DateTime::parse_from_rfc3339(text).map(|time| time.with_timezone(&Utc))
}
