//! Rows in and out of SQLite: any table's rows read from a built query, a row encoded to its
//! values before the write transaction starts and then inserted or updated, and the store's
//! reads that return rows, a row or a page.

use aibt_store::sql::query::DeleteUnused;
use aibt_store::sql::{PageQuery, Query, Table, TableRow, WriteRow, query};
use aibt_store::{Page, Result, StoreError};
use rusqlite::Connection;
use rusqlite::types::Value;

use crate::codec::{DIALECT, Reader, Values, db_error, insert_error, params};
use crate::connection::SqliteStore;

/// Runs a query and reads every row as `T`.
pub fn query_rows<T: TableRow>(connection: &Connection, query: &Query) -> Result<Vec<T>> {
    let mut statement = connection.prepare_cached(&query.sql).map_err(db_error)?;
    let mut rows = statement.query(params(query)).map_err(db_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db_error)? {
        out.push(T::read(&Reader {
            row,
            table: T::table(),
        })?);
    }
    Ok(out)
}

/// The one row a query finds, or NotFound naming `id`.
pub fn query_one<T: TableRow>(connection: &Connection, query: &Query, id: &str) -> Result<T> {
    query_rows(connection, query)?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::not_found(T::table().entity, id))
}

/// The row of `T` whose key is `key`.
pub fn get<T: TableRow>(connection: &Connection, key: &str) -> Result<T> {
    query_one(connection, &query::get::<T>(DIALECT, key), key)
}

/// Deletes a row unless tasks refer to it.
pub fn delete_unused(connection: &Connection, d: &DeleteUnused) -> Result<()> {
    let used = count(connection, &d.in_use)?;
    if used > 0 {
        return Err(StoreError::in_use(d.entity, &d.id, used));
    }
    if execute(connection, &d.delete)? == 0 {
        return Err(StoreError::not_found(d.entity, &d.id));
    }
    Ok(())
}

/// The number a `SELECT count(*)` finds.
pub fn count(connection: &Connection, query: &Query) -> Result<i64> {
    connection
        .prepare_cached(&query.sql)
        .map_err(db_error)?
        .query_row(params(query), |row| row.get(0))
        .map_err(db_error)
}

/// Runs a statement; the rows it changed.
pub fn execute(connection: &Connection, query: &Query) -> Result<usize> {
    connection
        .prepare_cached(&query.sql)
        .map_err(db_error)?
        .execute(params(query))
        .map_err(db_error)
}

/// A row rendered to the values its statements bind, before the write transaction starts.
pub struct Encoded {
    table: &'static Table,
    key: String,
    values: Vec<Value>,
}

impl Encoded {
    pub fn new<T: WriteRow>(row: &T) -> Result<Encoded> {
        Ok(Encoded {
            table: T::table(),
            key: row.key().to_string(),
            values: Values::of(row)?,
        })
    }

    /// Renders every row of a list.
    pub fn all<'r, T: WriteRow + 'r>(
        rows: impl IntoIterator<Item = &'r T>,
    ) -> Result<Vec<Encoded>> {
        rows.into_iter().map(Encoded::new).collect()
    }

    /// Inserts the row; a taken key is a conflict naming the row.
    pub fn insert(&self, connection: &Connection) -> Result<()> {
        insert_all(connection, std::slice::from_ref(self))
    }

    /// Writes every column of the stored row with this key, which must exist.
    pub fn update(&self, connection: &Connection) -> Result<()> {
        let changed = connection
            .prepare_cached(&self.table.sql(DIALECT).update)
            .map_err(db_error)?
            .execute(rusqlite::params_from_iter(self.values.iter()))
            .map_err(db_error)?;
        if changed == 0 {
            return Err(StoreError::not_found(self.table.entity, &self.key));
        }
        Ok(())
    }
}

/// Inserts rows of one table through one prepared statement.
pub fn insert_all(connection: &Connection, rows: &[Encoded]) -> Result<()> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let mut statement = connection
        .prepare_cached(&first.table.sql(DIALECT).insert)
        .map_err(db_error)?;
    for row in rows {
        statement
            .execute(rusqlite::params_from_iter(row.values.iter()))
            .map_err(insert_error(row.table.entity, &row.key))?;
    }
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn rows<T: TableRow + Send + 'static>(&self, query: Query) -> Result<Vec<T>> {
        self.read(move |connection| query_rows(connection, &query))
            .await
    }

    pub(crate) async fn one<T: TableRow + Send + 'static>(
        &self,
        query: Query,
        id: &str,
    ) -> Result<T> {
        let id = id.to_string();
        self.read(move |connection| query_one(connection, &query, &id))
            .await
    }

    pub(crate) async fn get<T: TableRow + Send + 'static>(&self, key: &str) -> Result<T> {
        self.one(query::get::<T>(DIALECT, key), key).await
    }

    pub(crate) async fn first<T: TableRow + Send + 'static>(
        &self,
        query: Query,
    ) -> Result<Option<T>> {
        Ok(self.rows(query).await?.into_iter().next())
    }

    pub(crate) async fn page<T: TableRow + Send + 'static>(
        &self,
        query: Result<PageQuery<T>>,
    ) -> Result<Page<T>> {
        let query = query?;
        self.read(move |connection| Ok(query.page(query_rows(connection, &query.query)?)))
            .await
    }

    pub(crate) async fn insert<T: WriteRow>(&self, row: &T) -> Result<()> {
        let row = Encoded::new(row)?;
        self.write(move |tx| row.insert(tx)).await
    }

    pub(crate) async fn update<T: WriteRow>(&self, row: &T) -> Result<()> {
        let row = Encoded::new(row)?;
        self.write(move |tx| row.update(tx)).await
    }
}
