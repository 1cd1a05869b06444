//! Committing a run's rows in batches: each batch (decisions, trades, snapshots, the run
//! account, progress and checkpoint) is one transaction, fenced by the lease. While one batch
//! is written, the next is computed; it is written only after its predecessor committed.

use std::sync::Arc;
use std::time::Instant;

use aibt_core::Simulation;
use aibt_store::{CommitOutcome, StepBatch, Store, VirtualAccount};

use super::recorder::Recorder;
use super::{Progress, RunConfig, RunOutcome};
use crate::error::{EngineError, Result};

/// Commits batches: rows, run account, progress and checkpoint in one transaction each.
/// While one batch is written, the next is computed and rendered; it is written only after
/// its predecessor committed (its `after` gate), so batches land in order and a batch whose
/// predecessor failed or was refused is never written.
pub(super) struct Flusher<'a> {
    store: Arc<dyn Store>,
    task_id: String,
    config: &'a RunConfig,
    stored_account: VirtualAccount,
    total_items: u64,
    bars_total: u64,
    pub(super) bars_in_batch: usize,
    batch_started: Instant,
    in_flight: Option<InFlight>,
}

/// A batch on its way to the store.
struct InFlight {
    handle: tokio::task::JoinHandle<aibt_store::Result<CommitOutcome>>,
    /// Becomes `Some(committed)` when the batch is settled.
    settled: tokio::sync::watch::Receiver<Option<bool>>,
    report: Progress,
}

impl<'a> Flusher<'a> {
    pub(super) fn new(
        store: Arc<dyn Store>,
        task_id: String,
        config: &'a RunConfig,
        stored_account: VirtualAccount,
        total_items: u64,
        bars_total: u64,
    ) -> Flusher<'a> {
        Flusher {
            store,
            task_id,
            config,
            stored_account,
            total_items,
            bars_total,
            bars_in_batch: 0,
            batch_started: Instant::now(),
            in_flight: None,
        }
    }

    pub(super) fn due(&self) -> bool {
        self.bars_in_batch >= self.config.batch_bars
            || self.batch_started.elapsed() >= self.config.batch_interval
    }

    /// Waits for the batch in flight; `Some` when the task was stopped from outside.
    pub(super) async fn settle(
        &mut self,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<Option<RunOutcome>> {
        let Some(in_flight) = self.in_flight.take() else {
            return Ok(None);
        };
        self.settle_one(in_flight, progress).await
    }

    async fn settle_one(
        &mut self,
        in_flight: InFlight,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<Option<RunOutcome>> {
        let outcome = in_flight.handle.await.map_err(|e| EngineError::Run {
            task_id: self.task_id.clone(),
            reason: format!("committing a batch: {e}"),
        })??;
        match outcome {
            CommitOutcome::Committed => {
                progress(&in_flight.report);
                Ok(None)
            }
            CommitOutcome::Refused {
                status,
                lease_owner,
            } => Ok(Some(RunOutcome::Stopped {
                status,
                lease_owner,
            })),
        }
    }

    /// Sends what is pending, then waits for the batch before it.
    pub(super) async fn commit(
        &mut self,
        recorder: &mut Recorder,
        simulation: &Simulation,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<Option<RunOutcome>> {
        let now = aibt_core::time::now();
        let account = recorder.account_row(&self.stored_account, &simulation.account, now)?;
        let rows = recorder.take();
        let checkpoint =
            serde_json::to_value(simulation.checkpoint()).map_err(|e| EngineError::Run {
                task_id: self.task_id.clone(),
                reason: format!("encoding the checkpoint: {e}"),
            })?;
        let batch = StepBatch {
            task_id: self.task_id.clone(),
            lease_owner: self.config.worker_id.clone(),
            lease_expires_at: now + self.config.lease,
            decisions: rows.decisions,
            trades: rows.trades,
            snapshots: rows.snapshots,
            account: account.clone(),
            processed_items: i64::try_from(simulation.steps()).unwrap_or(i64::MAX),
            total_items: Some(i64::try_from(self.total_items).unwrap_or(i64::MAX)),
            checkpoint,
            now,
        };
        let report = Progress {
            task_id: self.task_id.clone(),
            processed_items: simulation.steps(),
            total_items: self.total_items,
            bars_done: simulation.next_bar(),
            bars_total: self.bars_total,
        };
        let previous = self.in_flight.take();
        let after: Option<aibt_store::After> = previous.as_ref().map(|p| {
            let mut settled = p.settled.clone();
            Box::pin(async move {
                matches!(
                    settled.wait_for(Option::is_some).await.as_deref(),
                    Ok(Some(true))
                )
            }) as aibt_store::After
        });
        let (announce, settled) = tokio::sync::watch::channel(None);
        let store = self.store.clone();
        let handle = tokio::spawn(async move {
            let outcome = store.commit_steps_after(batch, after).await;
            let _ = announce.send(Some(matches!(outcome, Ok(CommitOutcome::Committed))));
            outcome
        });
        self.in_flight = Some(InFlight {
            handle,
            settled,
            report,
        });
        self.bars_in_batch = 0;
        self.batch_started = Instant::now();
        self.stored_account = account;
        match previous {
            Some(previous) => self.settle_one(previous, progress).await,
            None => Ok(None),
        }
    }
}
