//! Writing a batch of steps: the rows are rendered to the values they bind before the write
//! transaction starts, and written only behind the lease fence.

use aibt_store::sql::{ACCOUNTS, PROGRESS, SNAPSHOTS, query, task_status};
use aibt_store::{AccountSnapshot, CommitOutcome, Result, StepBatch, StoreError};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter};

use crate::codec::{self, DIALECT, Values, db_error, insert_error};
use crate::tables::{Encoded, insert_all};

/// A snapshot row rendered to text before the write transaction starts: the 23 values, in
/// column order, as slices of one string. Rendering happens while the previous batch is
/// being written, so the writer only binds.
struct EncodedSnapshot {
    text: String,
    bounds: [u32; 24],
    has_task: bool,
}

impl EncodedSnapshot {
    fn value(&self, column: usize) -> &str {
        &self.text[self.bounds[column] as usize..self.bounds[column + 1] as usize]
    }
}

/// Renders snapshots; the lots' JSON is reused while it does not change, which is almost
/// every bar of a backtest.
struct SnapshotEncoder {
    long_cache: Option<(Vec<aibt_core::Lot>, String)>,
    short_cache: Option<(Vec<aibt_core::Lot>, String)>,
}

impl SnapshotEncoder {
    fn lots_json<'c>(
        cache: &'c mut Option<(Vec<aibt_core::Lot>, String)>,
        lots: &[aibt_core::Lot],
    ) -> Result<&'c str> {
        let fresh = !matches!(cache, Some((cached, _)) if cached.as_slice() == lots);
        if fresh {
            *cache = Some((lots.to_vec(), codec::lots(lots)?));
        }
        Ok(cache.as_ref().map_or("[]", |(_, json)| json.as_str()))
    }

    fn encode(&mut self, s: &AccountSnapshot) -> Result<EncodedSnapshot> {
        let mut text = String::with_capacity(256 + s.long_positions.len() * 256);
        let mut bounds = [0u32; 24];
        let mut fixed = aibt_core::decimal::FixedText::new();
        let mut time = codec::TimeText::new();
        let mut column = 0;
        let mut push = |text: &mut String, value: &str| {
            text.push_str(value);
            column += 1;
            bounds[column] = text.len() as u32;
        };
        push(&mut text, &s.snapshot_id);
        push(&mut text, s.task_id.as_deref().unwrap_or(""));
        push(&mut text, &s.account_id);
        for amount in [
            s.balance.mantissa(),
            s.stock_quantity.mantissa(),
            s.stock_price.mantissa(),
            s.stock_market_value.mantissa(),
            s.total_value.mantissa(),
            s.profit_loss.mantissa(),
        ] {
            push(&mut text, fixed.format(amount, 8));
        }
        push(&mut text, fixed.format(s.profit_loss_percent.mantissa(), 6));
        let stamp = time.format(s.timestamp);
        if stamp.is_empty() {
            push(&mut text, &codec::ts(s.timestamp));
        } else {
            push(&mut text, stamp);
        }
        push(&mut text, fixed.format(s.margin_used.mantissa(), 8));
        push(&mut text, s.market_type.as_str());
        push(&mut text, fixed.format(s.initial_balance.mantissa(), 8));
        push(&mut text, &s.stock_symbol);
        push(&mut text, fixed.format(s.current_balance.mantissa(), 8));
        push(&mut text, s.position_side.as_str());
        push(&mut text, fixed.format(s.short_avg_price.mantissa(), 8));
        push(&mut text, fixed.format(s.short_total_cost.mantissa(), 8));
        push(
            &mut text,
            Self::lots_json(&mut self.short_cache, &s.short_positions)?,
        );
        push(
            &mut text,
            Self::lots_json(&mut self.long_cache, &s.long_positions)?,
        );
        push(&mut text, fixed.format(s.available_balance.mantissa(), 8));
        push(&mut text, fixed.format(s.total_fees.mantissa(), 8));
        Ok(EncodedSnapshot {
            text,
            bounds,
            has_task: s.task_id.is_some(),
        })
    }
}

/// A batch rendered to the values its statements bind.
pub(crate) struct EncodedBatch {
    task_id: String,
    lease_owner: String,
    decisions: Vec<Encoded>,
    trades: Vec<Encoded>,
    snapshots: Vec<EncodedSnapshot>,
    account: Vec<Value>,
    processed_items: i64,
    total_items: Option<i64>,
    checkpoint: String,
    lease_expires_at: String,
    now: String,
}

impl EncodedBatch {
    pub(crate) fn new(batch: StepBatch) -> Result<EncodedBatch> {
        let mut encoder = SnapshotEncoder {
            long_cache: None,
            short_cache: None,
        };
        Ok(EncodedBatch {
            decisions: Encoded::all(&batch.decisions)?,
            trades: Encoded::all(&batch.trades)?,
            snapshots: batch
                .snapshots
                .iter()
                .map(|s| encoder.encode(s))
                .collect::<Result<_>>()?,
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
        let mut statement = tx
            .prepare_cached(&SNAPSHOTS.sql(DIALECT).insert)
            .map_err(db_error)?;
        for row in &self.snapshots {
            let v = |column| row.value(column);
            statement
                .execute(params![
                    v(0),
                    row.has_task.then(|| v(1)),
                    v(2),
                    v(3),
                    v(4),
                    v(5),
                    v(6),
                    v(7),
                    v(8),
                    v(9),
                    v(10),
                    v(11),
                    v(12),
                    v(13),
                    v(14),
                    v(15),
                    v(16),
                    v(17),
                    v(18),
                    v(19),
                    v(20),
                    v(21),
                    v(22),
                ])
                .map_err(insert_error("snapshot", v(0)))?;
        }
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
