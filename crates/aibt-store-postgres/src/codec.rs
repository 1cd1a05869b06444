//! How aibt's values are written to and read from PostgreSQL columns: decimals as NUMERIC,
//! JSON as JSONB, times as TIMESTAMPTZ, counts as BIGINT and the row types' integers as
//! INTEGER; and how the driver's errors read.

use aibt_core::Lot;
use aibt_store::sql::{BindRow, Dialect, Fixed, Query, ReadRow, SqlValue, Table, WriteRow};
use aibt_store::{Result, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Json, ToSql};

/// The SQL this backend speaks: `aibt_store::sql` builds its statements with `$` markers.
pub const DIALECT: Dialect = Dialect::Postgres;

/// Owned parameters of one statement.
pub type Params = Vec<Box<dyn ToSql + Sync + Send>>;

pub fn refs(params: &Params) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// The parameters of a built statement, borrowed: text binds as VARCHAR or TEXT, an integer
/// as BIGINT, a time as TIMESTAMPTZ.
pub fn query_refs(query: &Query) -> Vec<&(dyn ToSql + Sync)> {
    query
        .params
        .iter()
        .map(|p| match p {
            SqlValue::Text(text) => text as &(dyn ToSql + Sync),
            SqlValue::Int(n) => n,
            SqlValue::Time(time) => time,
        })
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
            StoreError::exists(entity, id)
        } else {
            db_error(error)
        }
    }
}

fn lots_json(lots: &[Lot]) -> Result<serde_json::Value> {
    serde_json::to_value(lots).map_err(|e| StoreError::Database(format!("encoding lots: {e}")))
}

/// Reads columns of one row by position, naming the table and column in every error.
pub struct Reader<'a> {
    pub row: &'a Row,
    pub table: &'static Table,
}

impl Reader<'_> {
    fn get<'r, T: FromSql<'r>>(&'r self, index: usize) -> Result<T> {
        self.row
            .try_get::<_, T>(index)
            .map_err(|e| self.corrupt(index, "?", e))
    }

    /// A NUMERIC as one of aibt's fixed-scale decimals.
    fn fixed<T: Fixed>(&self, index: usize, value: Decimal) -> Result<T> {
        T::try_from(value).map_err(|e| self.corrupt(index, &value.to_string(), e))
    }
}

impl ReadRow for Reader<'_> {
    fn table(&self) -> &'static Table {
        self.table
    }

    fn text(&self, index: usize) -> Result<String> {
        self.get(index)
    }

    fn opt_text(&self, index: usize) -> Result<Option<String>> {
        self.get(index)
    }

    fn int(&self, index: usize) -> Result<i64> {
        Ok(i64::from(self.get::<i32>(index)?))
    }

    fn opt_int(&self, index: usize) -> Result<Option<i64>> {
        Ok(self.get::<Option<i32>>(index)?.map(i64::from))
    }

    fn count(&self, index: usize) -> Result<i64> {
        self.get(index)
    }

    fn bool(&self, index: usize) -> Result<bool> {
        self.get(index)
    }

    fn decimal<T: Fixed>(&self, index: usize) -> Result<T> {
        self.fixed(index, self.get(index)?)
    }

    fn opt_decimal<T: Fixed>(&self, index: usize) -> Result<Option<T>> {
        self.get::<Option<Decimal>>(index)?
            .map(|value| self.fixed(index, value))
            .transpose()
    }

    fn time(&self, index: usize) -> Result<DateTime<Utc>> {
        self.get(index)
    }

    fn opt_time(&self, index: usize) -> Result<Option<DateTime<Utc>>> {
        self.get(index)
    }

    fn opt_date(&self, index: usize) -> Result<Option<NaiveDate>> {
        self.get(index)
    }

    fn json(&self, index: usize) -> Result<serde_json::Value> {
        self.get(index)
    }

    fn opt_json(&self, index: usize) -> Result<Option<serde_json::Value>> {
        self.get(index)
    }

    fn lots(&self, index: usize) -> Result<Vec<Lot>> {
        let value: serde_json::Value = self.get(index)?;
        serde_json::from_value(value.clone())
            .map_err(|e| self.corrupt(index, &value.to_string(), e))
    }
}

/// The parameters of one row, in column order, typed as the columns are.
pub struct RowParams {
    table: &'static Table,
    params: Params,
}

impl RowParams {
    /// Parameters for the columns of `table`, which name the column of a refused value.
    pub fn new(table: &'static Table) -> RowParams {
        RowParams {
            table,
            params: Vec::with_capacity(table.columns.len()),
        }
    }

    pub fn of<T: WriteRow>(row: &T) -> Result<Params> {
        let mut params = RowParams::new(T::table());
        row.bind(&mut params)?;
        Ok(params.params)
    }

    pub fn into_params(self) -> Params {
        self.params
    }

    fn push(&mut self, value: impl ToSql + Sync + Send + 'static) {
        self.params.push(Box::new(value));
    }

    /// An INTEGER column holds 32 bits; a larger value is refused rather than cut.
    fn int4(&self, value: i64) -> Result<i32> {
        i32::try_from(value).map_err(|_| {
            StoreError::corrupt(
                self.table.name,
                self.table.column(self.params.len()),
                value.to_string(),
                "does not fit an INTEGER column",
            )
        })
    }
}

impl BindRow for RowParams {
    fn text(&mut self, value: &str) {
        self.push(value.to_string());
    }

    fn opt_text(&mut self, value: Option<&str>) {
        self.push(value.map(str::to_string));
    }

    fn label(&mut self, value: &'static str) {
        self.push(value);
    }

    fn opt_label(&mut self, value: Option<&'static str>) {
        self.push(value);
    }

    fn int(&mut self, value: i64) -> Result<()> {
        let value = self.int4(value)?;
        self.push(value);
        Ok(())
    }

    fn opt_int(&mut self, value: Option<i64>) -> Result<()> {
        let value = value.map(|n| self.int4(n)).transpose()?;
        self.push(value);
        Ok(())
    }

    fn bool(&mut self, value: bool) {
        self.push(value);
    }

    fn decimal<T: Fixed>(&mut self, value: T) {
        self.push(Into::<Decimal>::into(value));
    }

    fn opt_decimal<T: Fixed>(&mut self, value: Option<T>) {
        self.push(value.map(Into::<Decimal>::into));
    }

    fn time(&mut self, value: DateTime<Utc>) {
        self.push(value);
    }

    fn opt_time(&mut self, value: Option<DateTime<Utc>>) {
        self.push(value);
    }

    fn opt_date(&mut self, value: Option<NaiveDate>) {
        self.push(value);
    }

    fn json(&mut self, value: &serde_json::Value) {
        self.push(Json(value.clone()));
    }

    fn opt_json(&mut self, value: Option<&serde_json::Value>) {
        self.push(value.cloned().map(Json));
    }

    fn lots(&mut self, value: &[Lot]) -> Result<()> {
        let value = lots_json(value)?;
        self.push(value);
        Ok(())
    }
}
