//! The column-level interface between the shared row shapes and a backend: a backend says how
//! it reads and binds each kind of value, and every table's rows are then read and bound once,
//! in [`super::schema`].

use std::fmt::Display;
use std::str::FromStr;

use aibt_core::{Decimal, DecimalError, Lot};
use chrono::{DateTime, NaiveDate, Utc};

use super::table::Table;
use crate::error::{Result, StoreError};

/// aibt's fixed-scale decimals (`Money`, `Quantity`, `Rate`, `Percent`): stored as text at
/// their scale by SQLite, as `NUMERIC` by PostgreSQL.
pub trait Fixed:
    Copy
    + Display
    + FromStr<Err = DecimalError>
    + TryFrom<Decimal, Error = DecimalError>
    + Into<Decimal>
{
}

impl<T> Fixed for T where
    T: Copy
        + Display
        + FromStr<Err = DecimalError>
        + TryFrom<Decimal, Error = DecimalError>
        + Into<Decimal>
{
}

/// Reads the columns of one result row by position; every error names the table and column.
pub trait ReadRow {
    /// The table whose columns the row holds, in order.
    fn table(&self) -> &'static Table;
    fn text(&self, index: usize) -> Result<String>;
    fn opt_text(&self, index: usize) -> Result<Option<String>>;
    /// An INTEGER column.
    fn int(&self, index: usize) -> Result<i64>;
    fn opt_int(&self, index: usize) -> Result<Option<i64>>;
    /// A `count(*)`.
    fn count(&self, index: usize) -> Result<i64>;
    fn bool(&self, index: usize) -> Result<bool>;
    fn decimal<T: Fixed>(&self, index: usize) -> Result<T>;
    fn opt_decimal<T: Fixed>(&self, index: usize) -> Result<Option<T>>;
    fn time(&self, index: usize) -> Result<DateTime<Utc>>;
    fn opt_time(&self, index: usize) -> Result<Option<DateTime<Utc>>>;
    fn opt_date(&self, index: usize) -> Result<Option<NaiveDate>>;
    fn json(&self, index: usize) -> Result<serde_json::Value>;
    fn opt_json(&self, index: usize) -> Result<Option<serde_json::Value>>;
    fn lots(&self, index: usize) -> Result<Vec<Lot>>;

    /// A stored value of column `index` that does not read as its type.
    fn corrupt(&self, index: usize, value: &str, reason: impl ToString) -> StoreError {
        let table = self.table();
        StoreError::corrupt(table.name, table.column(index), value, reason)
    }

    /// One of the seed's enumerations (or anything else stored as its text).
    fn label<T>(&self, index: usize) -> Result<T>
    where
        T: FromStr,
        T::Err: ToString,
    {
        let text = self.text(index)?;
        text.parse()
            .map_err(|e: T::Err| self.corrupt(index, &text, e))
    }

    fn opt_label<T>(&self, index: usize) -> Result<Option<T>>
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
}

/// Collects the parameters of one statement, one column after another, in column order.
pub trait BindRow {
    fn text(&mut self, value: &str);
    fn opt_text(&mut self, value: Option<&str>);
    /// One of the seed's enumerations, as its stored string.
    fn label(&mut self, value: &'static str);
    fn opt_label(&mut self, value: Option<&'static str>);
    /// An INTEGER column (PostgreSQL's is 32 bits and refuses larger values).
    fn int(&mut self, value: i64) -> Result<()>;
    fn opt_int(&mut self, value: Option<i64>) -> Result<()>;
    fn bool(&mut self, value: bool);
    fn decimal<T: Fixed>(&mut self, value: T);
    fn opt_decimal<T: Fixed>(&mut self, value: Option<T>);
    fn time(&mut self, value: DateTime<Utc>);
    fn opt_time(&mut self, value: Option<DateTime<Utc>>);
    fn opt_date(&mut self, value: Option<NaiveDate>);
    fn json(&mut self, value: &serde_json::Value);
    fn opt_json(&mut self, value: Option<&serde_json::Value>);
    fn lots(&mut self, value: &[Lot]) -> Result<()>;
}

/// A row type read from the columns of its [`Table`].
pub trait TableRow: Sized {
    fn table() -> &'static Table;
    fn read(row: &impl ReadRow) -> Result<Self>;
}

/// A row type that is also written, with every column of its table.
pub trait WriteRow: TableRow {
    /// The key column's value, for errors.
    fn key(&self) -> &str;
    fn bind(&self, row: &mut impl BindRow) -> Result<()>;
}
