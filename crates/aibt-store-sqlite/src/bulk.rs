//! Inserting many rows of one table: several rows per `INSERT … VALUES (…), (…)` statement.
//! A statement execution has a fixed cost (its program started, its cursors opened and each
//! seek begun from the root, the statement reset) that a one-row insert pays per row; a long
//! backtest writes one snapshot row per bar and an import one bar row per line.

use aibt_store::{Result, StoreError};
use rusqlite::{Connection, Statement};

use crate::codec::db_error;

/// Rows bound to one statement: enough to spread its fixed cost thin, few enough that the
/// parameters (64 × 20 for snapshots) stay far below SQLite's limit of 32,766.
const ROWS_PER_STATEMENT: usize = 64;

/// One table's rows, `columns` bound in that order.
pub(crate) struct BulkInsert<'a> {
    pub table: &'a str,
    pub columns: &'a [&'a str],
}

impl BulkInsert<'_> {
    /// `OR FAIL`: a refused row ends the statement and keeps the rows before it, where the
    /// default `ABORT` would undo them, for which SQLite journals every page the statement
    /// touches (a fifth of a snapshot insert, measured). Nothing is kept either way: a refused
    /// row fails the caller's whole transaction.
    fn sql(&self, rows: usize) -> String {
        let row = format!("({})", vec!["?"; self.columns.len()].join(", "));
        format!(
            "INSERT OR FAIL INTO {} ({}) VALUES {}",
            self.table,
            self.columns.join(", "),
            vec![row; rows].join(", ")
        )
    }

    /// Inserts `items` in the caller's transaction, which must be rolled back on an error.
    /// `bind` binds one item's columns from the 1-based parameter index it is given; `failed`
    /// makes the error of a refused item (a taken key).
    pub(crate) fn insert<T>(
        &self,
        tx: &Connection,
        items: &[T],
        mut bind: impl FnMut(&mut Statement<'_>, usize, &T) -> rusqlite::Result<()>,
        failed: impl Fn(rusqlite::Error, &T) -> StoreError,
    ) -> Result<()> {
        let mut chunks = items.chunks_exact(ROWS_PER_STATEMENT);
        if chunks.len() > 0 {
            let mut many = tx
                .prepare_cached(&self.sql(ROWS_PER_STATEMENT))
                .map_err(db_error)?;
            let width = self.columns.len();
            for chunk in chunks.by_ref() {
                let bound = chunk
                    .iter()
                    .enumerate()
                    .try_for_each(|(row, item)| bind(&mut many, 1 + row * width, item));
                if let Err(error) = bound.and_then(|()| many.raw_execute()) {
                    // The rows before the refused one were kept (`OR FAIL`) and counted: the
                    // count is the refused row's place in the statement.
                    let refused = usize::try_from(tx.changes())
                        .ok()
                        .and_then(|kept| chunk.get(kept));
                    return Err(match refused {
                        Some(item) => failed(error, item),
                        None => db_error(error),
                    });
                }
            }
        }
        let rest = chunks.remainder();
        if rest.is_empty() {
            return Ok(());
        }
        let mut one = tx.prepare_cached(&self.sql(1)).map_err(db_error)?;
        for item in rest {
            bind(&mut one, 1, item)
                .and_then(|()| one.raw_execute())
                .map_err(|e| failed(e, item))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Connection {
        let connection = Connection::open_in_memory().expect("memory");
        connection
            .execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .expect("table");
        connection
    }

    const T: BulkInsert<'static> = BulkInsert {
        table: "t",
        columns: &["k", "v"],
    };

    fn insert(connection: &Connection, keys: &[i64]) -> Result<()> {
        T.insert(
            connection,
            keys,
            |statement, at, key| {
                statement.raw_bind_parameter(at, key)?;
                statement.raw_bind_parameter(at + 1, format!("row {key}"))
            },
            |_, key| StoreError::exists("row", &key.to_string()),
        )
    }

    #[test]
    fn every_row_is_inserted_in_full_statements_and_the_rest() {
        let connection = table();
        let keys: Vec<i64> = (0..ROWS_PER_STATEMENT as i64 * 3 + 5).collect();
        insert(&connection, &keys).expect("insert");
        let (count, sum): (i64, i64) = connection
            .query_row(
                "SELECT count(*), sum(k) FROM t WHERE v = 'row ' || k",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("count");
        assert_eq!(count, keys.len() as i64);
        assert_eq!(sum, keys.iter().sum::<i64>());
    }

    #[test]
    fn a_taken_key_is_named_wherever_it_falls() {
        for taken in [0, 1, 37, 63, 64, 100, 127, 130] {
            let connection = table();
            connection
                .execute("INSERT INTO t (k, v) VALUES (?1, 'before')", [taken])
                .expect("taken");
            let keys: Vec<i64> = (0..131).collect();
            let error = insert(&connection, &keys).expect_err("a taken key");
            assert_eq!(
                error.to_string(),
                StoreError::exists("row", &taken.to_string()).to_string(),
                "key {taken}"
            );
        }
    }
}
