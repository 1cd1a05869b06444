//! Writing a batch of steps: one transaction that locks the task's row, checks the lease
//! fence, and pipelines each table's inserts on one connection.

use aibt_core::TaskStatus;
use aibt_store::{CommitOutcome, Result, StepBatch, StoreError};
use futures_util::future::try_join_all;
use tokio_postgres::types::{Json, ToSql};

use crate::PostgresStore;
use crate::codec::{Params, db_error, insert_error, refs};
use crate::tables::*;

impl PostgresStore {
    /// Commits a batch whose predecessor has committed.
    pub(crate) async fn commit_batch(&self, batch: StepBatch) -> Result<CommitOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let row = tx
            .query_opt(
                "SELECT status, lease_owner FROM tasks WHERE task_id = $1 FOR UPDATE",
                &[&batch.task_id],
            )
            .await
            .map_err(db_error)?
            .ok_or_else(|| StoreError::NotFound {
                entity: "task",
                id: batch.task_id.clone(),
            })?;
        let status_text: String = row.get(0);
        let owner: Option<String> = row.get(1);
        let status: TaskStatus = status_text
            .parse()
            .map_err(|e: aibt_core::EnumParseError| StoreError::Corrupt {
                table: "tasks",
                column: "status",
                value: status_text.clone(),
                reason: e.to_string(),
            })?;
        if status != TaskStatus::Running || owner.as_deref() != Some(batch.lease_owner.as_str()) {
            return Ok(CommitOutcome::Refused {
                status,
                lease_owner: owner,
            });
        }
        let decisions = batch
            .decisions
            .iter()
            .map(decision_params)
            .collect::<Result<Vec<_>>>()?;
        execute_many(&tx, &DECISION_SQL.insert, decisions, |i| {
            ("decision", batch.decisions[i].decision_id.clone())
        })
        .await?;
        let trades = batch.trades.iter().map(trade_params).collect();
        execute_many(&tx, &TRADE_SQL.insert, trades, |i| {
            ("trade", batch.trades[i].trade_id.clone())
        })
        .await?;
        let snapshots = batch
            .snapshots
            .iter()
            .map(snapshot_params)
            .collect::<Result<Vec<_>>>()?;
        execute_many(&tx, &SNAPSHOT_SQL.insert, snapshots, |i| {
            ("snapshot", batch.snapshots[i].snapshot_id.clone())
        })
        .await?;
        tx.execute(&ACCOUNT_SQL.update, &refs(&account_params(&batch.account)?))
            .await
            .map_err(db_error)?;
        let processed = i32::try_from(batch.processed_items).unwrap_or(i32::MAX);
        let total = batch
            .total_items
            .map(|n| i32::try_from(n).unwrap_or(i32::MAX));
        tx.execute(
            "UPDATE tasks SET processed_items = $2, total_items = $3, checkpoint = $4,
               lease_expires_at = $5, updated_at = $6 WHERE task_id = $1",
            &[
                &batch.task_id,
                &processed,
                &total,
                &Json(&batch.checkpoint),
                &batch.lease_expires_at,
                &batch.now,
            ],
        )
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(CommitOutcome::Committed)
    }
}

/// Runs one prepared statement for many rows, pipelined on one connection.
async fn execute_many(
    tx: &deadpool_postgres::Transaction<'_>,
    sql: &str,
    rows: Vec<Params>,
    conflict: impl Fn(usize) -> (&'static str, String),
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let statement = tx.prepare_cached(sql).await.map_err(db_error)?;
    let parameter_lists: Vec<Vec<&(dyn ToSql + Sync)>> = rows.iter().map(refs).collect();
    let results = try_join_all(parameter_lists.iter().enumerate().map(|(i, params)| {
        let statement = &statement;
        let conflict = &conflict;
        async move {
            tx.execute(statement, params).await.map_err(|e| {
                let (entity, id) = conflict(i);
                insert_error(entity, &id)(e)
            })
        }
    }))
    .await;
    results.map(|_| ())
}
