//! Writing a batch of steps: one transaction that locks the task's row, checks the lease
//! fence, and pipelines each table's inserts on one connection.

use aibt_store::sql::{ACCOUNTS, PROGRESS, query, task_status};
use aibt_store::{CommitOutcome, Result, StepBatch, StoreError};
use tokio_postgres::types::Json;

use crate::codec::{DIALECT, RowParams, db_error, refs};
use crate::connection::PostgresStore;
use crate::tables::write_many;

impl PostgresStore {
    /// Commits a batch whose predecessor has committed.
    pub(crate) async fn commit_batch(&self, batch: StepBatch) -> Result<CommitOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let row = tx
            .query_opt(&query::lock_task_state(DIALECT), &[&batch.task_id])
            .await
            .map_err(db_error)?
            .ok_or_else(|| StoreError::not_found("task", &batch.task_id))?;
        let status = task_status(row.get(0))?;
        if let Some(refused) = CommitOutcome::fence(status, row.get(1), &batch.lease_owner) {
            return Ok(refused);
        }
        write_many(&tx, &batch.decisions).await?;
        write_many(&tx, &batch.trades).await?;
        write_many(&tx, &batch.snapshots).await?;
        tx.execute(
            &ACCOUNTS.sql(DIALECT).update,
            &refs(&RowParams::of(&batch.account)?),
        )
        .await
        .map_err(db_error)?;
        let processed = i32::try_from(batch.processed_items).unwrap_or(i32::MAX);
        let total = batch
            .total_items
            .map(|n| i32::try_from(n).unwrap_or(i32::MAX));
        tx.execute(
            &PROGRESS.sql(DIALECT).update,
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
