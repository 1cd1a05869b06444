//! How aibt's values are written to and read from PostgreSQL columns: decimals as NUMERIC,
//! JSON as JSONB, times as TIMESTAMPTZ; and how the driver's errors read.

use aibt_core::Lot;
use aibt_store::{Result, StoreError};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

/// Owned parameters of one statement.
pub type Params = Vec<Box<dyn ToSql + Sync + Send>>;

pub fn refs(params: &Params) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

pub fn db_error(error: tokio_postgres::Error) -> StoreError {
    if let Some(db) = error.as_db_error() {
        return StoreError::Database(format!("{}: {}", db.code().code(), db.message()));
    }
    StoreError::Database(error.to_string())
}

/// Maps a unique violation to a conflict that names the entity.
pub fn insert_error<'a>(
    entity: &'static str,
    id: &'a str,
) -> impl FnOnce(tokio_postgres::Error) -> StoreError + 'a {
    move |error| {
        if error.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
            StoreError::Conflict(format!("{entity} {id:?} already exists"))
        } else {
            db_error(error)
        }
    }
}

pub(crate) fn int4(value: i64, table: &'static str, column: &'static str) -> Result<i32> {
    i32::try_from(value).map_err(|_| StoreError::Corrupt {
        table,
        column,
        value: value.to_string(),
        reason: "does not fit an INTEGER column".into(),
    })
}

pub(crate) fn lots_json(lots: &[Lot]) -> Result<serde_json::Value> {
    serde_json::to_value(lots).map_err(|e| StoreError::Database(format!("encoding lots: {e}")))
}

/// Reads columns of one row by position, naming the table and column in every error.
pub struct Reader<'a> {
    pub row: &'a Row,
    pub table: &'static str,
    pub columns: &'static [&'static str],
}

impl Reader<'_> {
    fn column(&self, index: usize) -> &'static str {
        self.columns.get(index).copied().unwrap_or("?")
    }

    pub fn get<'r, T: tokio_postgres::types::FromSql<'r>>(&'r self, index: usize) -> Result<T> {
        self.row
            .try_get::<_, T>(index)
            .map_err(|e| StoreError::Corrupt {
                table: self.table,
                column: self.column(index),
                value: "?".into(),
                reason: e.to_string(),
            })
    }

    pub fn text(&self, index: usize) -> Result<String> {
        self.get(index)
    }

    pub fn opt_text(&self, index: usize) -> Result<Option<String>> {
        self.get(index)
    }

    pub fn int(&self, index: usize) -> Result<i64> {
        Ok(i64::from(self.get::<i32>(index)?))
    }

    pub fn opt_int(&self, index: usize) -> Result<Option<i64>> {
        Ok(self.get::<Option<i32>>(index)?.map(i64::from))
    }

    pub fn bigint(&self, index: usize) -> Result<i64> {
        self.get(index)
    }

    pub fn bool(&self, index: usize) -> Result<bool> {
        self.get(index)
    }

    /// A NUMERIC column as one of aibt's fixed-scale decimals.
    pub fn fixed<T>(&self, index: usize) -> Result<T>
    where
        T: TryFrom<Decimal>,
        T::Error: ToString,
    {
        let value: Decimal = self.get(index)?;
        T::try_from(value).map_err(|e| StoreError::Corrupt {
            table: self.table,
            column: self.column(index),
            value: value.to_string(),
            reason: e.to_string(),
        })
    }

    pub fn opt_fixed<T>(&self, index: usize) -> Result<Option<T>>
    where
        T: TryFrom<Decimal>,
        T::Error: ToString,
    {
        match self.get::<Option<Decimal>>(index)? {
            None => Ok(None),
            Some(value) => T::try_from(value)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    table: self.table,
                    column: self.column(index),
                    value: value.to_string(),
                    reason: e.to_string(),
                }),
        }
    }

    /// A seed enum stored as its string.
    pub fn parsed<T>(&self, index: usize) -> Result<T>
    where
        T: std::str::FromStr,
        T::Err: ToString,
    {
        let text: String = self.get(index)?;
        text.parse().map_err(|e: T::Err| StoreError::Corrupt {
            table: self.table,
            column: self.column(index),
            value: text.clone(),
            reason: e.to_string(),
        })
    }

    pub fn opt_parsed<T>(&self, index: usize) -> Result<Option<T>>
    where
        T: std::str::FromStr,
        T::Err: ToString,
    {
        match self.get::<Option<String>>(index)? {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|e: T::Err| StoreError::Corrupt {
                    table: self.table,
                    column: self.column(index),
                    value: text.clone(),
                    reason: e.to_string(),
                }),
        }
    }

    pub fn time(&self, index: usize) -> Result<DateTime<Utc>> {
        self.get(index)
    }

    pub fn opt_time(&self, index: usize) -> Result<Option<DateTime<Utc>>> {
        self.get(index)
    }

    pub fn json(&self, index: usize) -> Result<serde_json::Value> {
        self.get(index)
    }

    pub fn opt_json(&self, index: usize) -> Result<Option<serde_json::Value>> {
        self.get(index)
    }

    pub fn lots(&self, index: usize) -> Result<Vec<Lot>> {
        let value: serde_json::Value = self.get(index)?;
        serde_json::from_value(value.clone()).map_err(|e| StoreError::Corrupt {
            table: self.table,
            column: self.column(index),
            value: value.to_string(),
            reason: e.to_string(),
        })
    }
}

pub(crate) fn text(value: impl ToString) -> Box<dyn ToSql + Sync + Send> {
    Box::new(value.to_string())
}
