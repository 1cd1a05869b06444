//! Rows in and out of PostgreSQL: any table's rows read from a built query (on a pooled
//! connection or inside a transaction), a row inserted or updated with its typed parameters,
//! and the store's reads that return rows, a row or a page.

use aibt_store::sql::query::DeleteUnused;
use aibt_store::sql::{PageQuery, Query, TableRow, WriteRow, query};
use aibt_store::{Page, Result, StoreError};
use deadpool_postgres::GenericClient;
use futures_util::future::try_join_all;
use tokio_postgres::types::ToSql;

use crate::codec::{DIALECT, Reader, RowParams, db_error, insert_error, query_refs, refs};
use crate::connection::PostgresStore;

/// Runs a query and reads every row as `T`.
pub async fn query_rows<T: TableRow>(client: &impl GenericClient, query: &Query) -> Result<Vec<T>> {
    let statement = client.prepare_cached(&query.sql).await.map_err(db_error)?;
    let rows = client
        .query(&statement, &query_refs(query))
        .await
        .map_err(db_error)?;
    rows.iter()
        .map(|row| {
            T::read(&Reader {
                row,
                table: T::table(),
            })
        })
        .collect()
}

/// The row of `T` whose key is `key`, or NotFound.
pub async fn get<T: TableRow>(client: &impl GenericClient, key: &str) -> Result<T> {
    query_rows(client, &query::get::<T>(DIALECT, key))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::not_found(T::table().entity, key))
}

/// The number a `SELECT count(*)` finds.
pub async fn count(client: &impl GenericClient, query: &Query) -> Result<i64> {
    let statement = client.prepare_cached(&query.sql).await.map_err(db_error)?;
    Ok(client
        .query_one(&statement, &query_refs(query))
        .await
        .map_err(db_error)?
        .get(0))
}

/// Runs a statement; the rows it changed.
pub async fn execute(client: &impl GenericClient, query: &Query) -> Result<u64> {
    let statement = client.prepare_cached(&query.sql).await.map_err(db_error)?;
    client
        .execute(&statement, &query_refs(query))
        .await
        .map_err(db_error)
}

/// Deletes a row unless tasks refer to it, in one transaction.
pub async fn delete_unused(client: &mut deadpool_postgres::Object, d: &DeleteUnused) -> Result<()> {
    let tx = client.transaction().await.map_err(db_error)?;
    let used = count(&tx, &d.in_use).await?;
    if used > 0 {
        return Err(StoreError::in_use(d.entity, &d.id, used));
    }
    if execute(&tx, &d.delete).await? == 0 {
        return Err(StoreError::not_found(d.entity, &d.id));
    }
    tx.commit().await.map_err(db_error)
}

/// Runs one of `T`'s statements with every column of `row`; the driver's own error is left to
/// the caller, which knows what a failure means.
async fn execute_row<T: WriteRow>(
    client: &impl GenericClient,
    sql: &str,
    row: &T,
) -> Result<Result<u64, tokio_postgres::Error>> {
    let statement = client.prepare_cached(sql).await.map_err(db_error)?;
    Ok(client
        .execute(&statement, &refs(&RowParams::of(row)?))
        .await)
}

/// Inserts a row; a taken key is a conflict naming the row.
pub async fn insert<T: WriteRow>(client: &impl GenericClient, row: &T) -> Result<()> {
    let table = T::table();
    execute_row(client, &table.sql(DIALECT).insert, row)
        .await?
        .map_err(insert_error(table.entity, row.key()))?;
    Ok(())
}

/// From this many rows on, a batch goes in by `COPY … FROM STDIN (FORMAT binary)`: one
/// statement streaming the rows, about five times the rows a second of pipelined INSERTs on a
/// backtest's snapshots. Fewer rows (a model's step) take the INSERTs, which cost less to
/// start.
const COPY_FROM_ROWS: usize = 64;

/// Writes rows of one table in the caller's transaction: by COPY when there are many, else by
/// pipelined INSERTs. A taken key is a conflict naming the row either way.
pub async fn write_many<'r, T: WriteRow + 'r>(
    tx: &deadpool_postgres::Transaction<'_>,
    rows: &[T],
) -> Result<()> {
    if rows.len() < COPY_FROM_ROWS {
        return insert_many(tx, rows).await;
    }
    let table = T::table();
    // The INSERT's parameter types are the columns' types, in the COPY's column order.
    let insert = tx
        .prepare_cached(&table.sql(DIALECT).insert)
        .await
        .map_err(db_error)?;
    let sink = tx
        .copy_in(&format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            table.name,
            table.columns.join(", ")
        ))
        .await
        .map_err(db_error)?;
    let writer = tokio_postgres::binary_copy::BinaryCopyInWriter::new(sink, insert.params());
    futures_util::pin_mut!(writer);
    for row in rows {
        let params = RowParams::of(row)?;
        writer
            .as_mut()
            .write(&refs(&params))
            .await
            .map_err(|e| copy_error(table.entity, e))?;
    }
    writer
        .finish()
        .await
        .map_err(|e| copy_error(table.entity, e))?;
    Ok(())
}

/// Streams new bars of one series into `market_bars` by binary COPY, in the caller's
/// transaction; the caller has checked that none is stored at their times.
pub async fn copy_bars(
    tx: &deadpool_postgres::Transaction<'_>,
    series: &aibt_store::SeriesKey,
    bars: &[aibt_core::Bar],
) -> Result<()> {
    const COLUMNS: &str = "symbol, market_type, granularity, ts, open, high, low, close, volume";
    let insert = tx
        .prepare_cached(&format!(
            "INSERT INTO market_bars ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .await
        .map_err(db_error)?;
    let sink = tx
        .copy_in(&format!(
            "COPY market_bars ({COLUMNS}) FROM STDIN (FORMAT binary)"
        ))
        .await
        .map_err(db_error)?;
    let writer = tokio_postgres::binary_copy::BinaryCopyInWriter::new(sink, insert.params());
    futures_util::pin_mut!(writer);
    let (market, granularity) = (series.market_type.as_str(), series.granularity.as_str());
    for bar in bars {
        let (open, high, low, close, volume) = (
            bar.open.get(),
            bar.high.get(),
            bar.low.get(),
            bar.close.get(),
            bar.volume.get(),
        );
        writer
            .as_mut()
            .write(&[
                &series.symbol,
                &market,
                &granularity,
                &bar.ts,
                &open,
                &high,
                &low,
                &close,
                &volume,
            ])
            .await
            .map_err(|e| copy_error("bar", e))?;
    }
    writer.finish().await.map_err(|e| copy_error("bar", e))?;
    Ok(())
}

/// A COPY refused for a taken key names the row from the server's detail, `Key (id)=(…)
/// already exists.`
fn copy_error(entity: &'static str, error: tokio_postgres::Error) -> StoreError {
    let taken = error
        .as_db_error()
        .filter(|e| *e.code() == tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
        .and_then(|e| e.detail())
        .and_then(|detail| {
            let start = detail.find(")=(")? + 3;
            let end = detail.rfind(") already exists")?;
            detail.get(start..end).map(str::to_string)
        });
    match taken {
        Some(id) => StoreError::exists(entity, &id),
        None => db_error(error),
    }
}

/// Inserts rows of one table through one prepared statement, pipelined on one connection.
pub async fn insert_many<'r, T: WriteRow + 'r>(
    tx: &deadpool_postgres::Transaction<'_>,
    rows: impl IntoIterator<Item = &'r T>,
) -> Result<()> {
    let rows: Vec<&T> = rows.into_iter().collect();
    if rows.is_empty() {
        return Ok(());
    }
    let table = T::table();
    let statement = tx
        .prepare_cached(&table.sql(DIALECT).insert)
        .await
        .map_err(db_error)?;
    let params = rows
        .iter()
        .map(|row| RowParams::of(*row))
        .collect::<Result<Vec<_>>>()?;
    let parameter_lists: Vec<Vec<&(dyn ToSql + Sync)>> = params.iter().map(refs).collect();
    let results = try_join_all(parameter_lists.iter().zip(&rows).map(|(params, row)| {
        let statement = &statement;
        async move {
            tx.execute(statement, params)
                .await
                .map_err(insert_error(table.entity, row.key()))
        }
    }))
    .await;
    results.map(|_| ())
}

/// Writes every column of the stored row with this key, which must exist.
pub async fn update<T: WriteRow>(client: &impl GenericClient, row: &T) -> Result<()> {
    let table = T::table();
    let changed = execute_row(client, &table.sql(DIALECT).update, row)
        .await?
        .map_err(db_error)?;
    if changed == 0 {
        return Err(StoreError::not_found(table.entity, row.key()));
    }
    Ok(())
}

impl PostgresStore {
    pub(crate) async fn rows<T: TableRow>(&self, query: Query) -> Result<Vec<T>> {
        query_rows(&self.client().await?, &query).await
    }

    /// The one row a query finds, or NotFound naming `id`.
    pub(crate) async fn one<T: TableRow>(&self, query: Query, id: &str) -> Result<T> {
        self.first(query)
            .await?
            .ok_or_else(|| StoreError::not_found(T::table().entity, id))
    }

    pub(crate) async fn get<T: TableRow>(&self, key: &str) -> Result<T> {
        get(&self.client().await?, key).await
    }

    pub(crate) async fn first<T: TableRow>(&self, query: Query) -> Result<Option<T>> {
        Ok(self.rows(query).await?.into_iter().next())
    }

    pub(crate) async fn page<T: TableRow>(&self, query: Result<PageQuery<T>>) -> Result<Page<T>> {
        let query = query?;
        let rows = query_rows(&self.client().await?, &query.query).await?;
        Ok(query.page(rows))
    }

    pub(crate) async fn count(&self, query: Query) -> Result<i64> {
        count(&self.client().await?, &query).await
    }

    pub(crate) async fn insert<T: WriteRow>(&self, row: &T) -> Result<()> {
        insert(&self.client().await?, row).await
    }

    pub(crate) async fn update<T: WriteRow>(&self, row: &T) -> Result<()> {
        update(&self.client().await?, row).await
    }
}
