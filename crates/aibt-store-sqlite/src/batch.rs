//! Writing a batch of steps: the rows are rendered to the values they bind before the write
//! transaction starts, and written only behind the lease fence.

use aibt_store::sql::{ACCOUNTS, PROGRESS, query, task_status};
use aibt_store::{CommitOutcome, Result, StepBatch, StoreError};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter};

use crate::codec::{self, DIALECT, Values, db_error};
use crate::snapshots::EncodedSnapshots;
use crate::tables::{Encoded, insert_all};

/// A batch rendered to the values its statements bind.
pub(crate) struct EncodedBatch {
    task_id: String,
    lease_owner: String,
    decisions: Vec<Encoded>,
    trades: Vec<Encoded>,
    snapshots: EncodedSnapshots,
    account: Vec<Value>,
    processed_items: i64,
    total_items: Option<i64>,
    checkpoint: String,
    lease_expires_at: String,
    now: String,
}

impl EncodedBatch {
    pub(crate) fn new(batch: StepBatch) -> Result<EncodedBatch> {
        Ok(EncodedBatch {
            decisions: Encoded::all(&batch.decisions)?,
            trades: Encoded::all(&batch.trades)?,
            snapshots: EncodedSnapshots::new(&batch.snapshots)?,
            account: Values::of(&batch.account)?,
            processed_items: batch.processed_items,
            total_items: batch.total_items,
            checkpoint: codec::json(&batch.checkpoint),
            lease_expires_at: codec::ts(batch.lease_expires_at),
            now: codec::ts(batch.now),
            task_id: batch.task_id,
            lease_owner: batch.lease_owner,
        })
    }

    pub(crate) fn write(self, tx: &rusqlite::Transaction<'_>) -> Result<CommitOutcome> {
        let (status, owner): (String, Option<String>) = tx
            .query_row(
                &query::lock_task_state(DIALECT),
                params![self.task_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => {
                    StoreError::not_found("task", &self.task_id)
                }
                other => db_error(other),
            })?;
        if let Some(refused) = CommitOutcome::fence(task_status(&status)?, owner, &self.lease_owner)
        {
            return Ok(refused);
        }
        insert_all(tx, &self.decisions)?;
        insert_all(tx, &self.trades)?;
        self.snapshots.write(tx)?;
        tx.prepare_cached(&ACCOUNTS.sql(DIALECT).update)
            .map_err(db_error)?
            .execute(params_from_iter(self.account.iter()))
            .map_err(db_error)?;
        tx.execute(
            &PROGRESS.sql(DIALECT).update,
            params![
                self.task_id,
                self.processed_items,
                self.total_items,
                self.checkpoint,
                self.lease_expires_at,
                self.now,
            ],
        )
        .map_err(db_error)?;
        Ok(CommitOutcome::Committed)
    }
}
