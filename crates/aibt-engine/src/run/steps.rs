//! The run loop: bars in, one step per bar out, a writer that commits the steps.
//!
//! The order of events on a bar is the simulation's (aibt-core): a queued order fills at the
//! open, the source sees the bar, at a decision bar it decides, the account is marked at the
//! close. Every strategy runs through this loop; only its decision source and its feed of
//! bars differ.

use std::sync::Arc;

use aibt_core::broker::Account;
use aibt_core::simulation::{BarFills, Simulation, decision_count, first_decision_bar};
use aibt_core::{Bar, Checkpoint, TradeAction};
use aibt_store::{Store, Task, VirtualAccount};
use serde_json::json;

use super::feed::Feed;
use super::flush::Flusher;
use super::heartbeat::Heartbeat;
use super::recorder::Recorder;
use super::{Progress, RunConfig, RunOutcome, complete, fail};
use crate::decide::{DecisionFacts, DecisionPoint, DecisionSource};
use crate::error::{EngineError, Result};
use crate::series::series_of;
use crate::task::TaskOptions;

/// Everything a run of one claimed task starts from.
pub(super) struct Run<'a> {
    pub(super) store: Arc<dyn Store>,
    pub(super) config: &'a RunConfig,
    pub(super) task: &'a Task,
    pub(super) options: &'a TaskOptions,
    /// The run account as the last committed step left it.
    pub(super) stored_account: VirtualAccount,
    pub(super) account: Account,
    pub(super) checkpoint: Option<Checkpoint>,
    pub(super) records_holds: bool,
}

impl Run<'_> {
    /// Feeds `history` then the period to the simulation and `source`, committing as it goes,
    /// and completes the task after its last bar.
    pub(super) async fn steps<S: DecisionSource>(
        self,
        mut source: S,
        history: Vec<Bar>,
        mut feed: Feed,
        bars_total: u64,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<RunOutcome> {
        let task = self.task;
        let task_id = task.task_id.as_str();
        for bar in &history {
            source.observe(bar);
        }
        let interval = u64::try_from(task.decision_interval).unwrap_or(1).max(1);
        let first = first_decision_bar(source.warmup_bars() as u64, history.len() as u64, interval);
        let total_items = decision_count(bars_total, first, interval);
        let failure_limit = self.options.failure_limit(total_items);
        let series = series_of(task)?;
        let mut simulation = Simulation::new(
            self.account,
            self.options.fill,
            interval,
            first,
            self.checkpoint,
        );
        let mut recorder = Recorder {
            task_id: task_id.to_string(),
            account_id: self.stored_account.account_id.clone(),
            symbol: task.stock_symbol.clone(),
            market_type: series.market_type,
            initial_balance: self.stored_account.initial_balance,
            rows: Default::default(),
        };
        if self.options.close_at_end && bars_total > 0 {
            simulation.end_flat_at(bars_total - 1);
        }
        let resume_at = simulation.next_bar();
        let each_decision = source.commits_each_decision();
        let heartbeat = Heartbeat::start(self.store.clone(), task_id.to_string(), self.config);
        let mut flush = Flusher::new(
            self.store.clone(),
            task_id.to_string(),
            self.config,
            self.stored_account,
            total_items,
            bars_total,
        );
        let mut index: u64 = 0;
        let mut fills = BarFills::default();
        let mut last_failure: Option<String> = None;
        while let Some(chunk) = feed.next_chunk().await? {
            for bar in chunk {
                source.observe(bar);
                if index < resume_at {
                    // Replaying what a previous run committed: only the source's state is
                    // rebuilt, from the same bars.
                    index += 1;
                    continue;
                }
                if heartbeat.lost() {
                    let now = self.store.get_task(task_id).await?;
                    return Ok(RunOutcome::Stopped {
                        status: now.status,
                        lease_owner: now.lease_owner,
                    });
                }
                fills.executions.clear();
                simulation.open(bar, &mut fills)?;
                let mut decided = false;
                if simulation.is_decision_bar() {
                    let step = simulation.steps();
                    let answer = source
                        .decide(DecisionPoint {
                            bar,
                            index,
                            step,
                            account: &simulation.account,
                            bracket: simulation.bracket(),
                            pending: simulation.pending(),
                        })
                        .await?;
                    if self.records_holds || answer.decision.action != TradeAction::Hold {
                        let facts = answer
                            .facts
                            .unwrap_or_else(|| DecisionFacts::at(aibt_core::time::now()));
                        recorder.decision(step, bar, &answer.decision, facts);
                    }
                    if let Some(failure) = answer.failure {
                        simulation.count_failed_decision();
                        last_failure = Some(failure);
                    }
                    let decision_id = recorder.decision_id(step);
                    simulation.decide(bar, &answer.decision, &decision_id, &mut fills)?;
                    decided = true;
                }
                let equity = simulation.close(bar, &mut fills)?;
                recorder.fills(&fills);
                recorder.snapshot(index, bar, &simulation.account, equity)?;
                index += 1;
                flush.bars_in_batch += 1;
                if decided && each_decision {
                    // One decision step, one transaction; and the step is settled before the
                    // next decision, so a pause is seen within one step.
                    if let Some(stopped) =
                        flush.commit(&mut recorder, &simulation, progress).await?
                    {
                        return Ok(stopped);
                    }
                    if let Some(stopped) = flush.settle(progress).await? {
                        return Ok(stopped);
                    }
                    if simulation.failed_decisions() > failure_limit {
                        let reason = format!(
                            "{} decisions failed, more than the limit of {failure_limit}; the last: {}",
                            simulation.failed_decisions(),
                            last_failure.as_deref().unwrap_or("unknown")
                        );
                        return fail(self.store.as_ref(), task_id, &self.config.worker_id, reason)
                            .await;
                    }
                } else if !each_decision
                    && flush.due()
                    && let Some(stopped) =
                        flush.commit(&mut recorder, &simulation, progress).await?
                {
                    return Ok(stopped);
                }
            }
        }
        if let Some(stopped) = flush.commit(&mut recorder, &simulation, progress).await? {
            return Ok(stopped);
        }
        if let Some(stopped) = flush.settle(progress).await? {
            return Ok(stopped);
        }
        drop(heartbeat);

        let mut stats = stats_json(task, &simulation, self.options)?;
        let summary = source.finish(self.store.as_ref(), task_id).await?;
        if let serde_json::Value::Object(stats) = &mut stats {
            stats.extend(summary.stats);
        }
        let worker = &self.config.worker_id;
        complete(
            self.store.as_ref(),
            task_id,
            worker,
            summary.with_errors,
            stats,
        )
        .await
    }
}

/// The statistics of a finished run as the task stores them.
fn stats_json(
    task: &Task,
    simulation: &Simulation,
    options: &TaskOptions,
) -> Result<serde_json::Value> {
    let mut stats = serde_json::to_value(simulation.stats()).map_err(|e| EngineError::Run {
        task_id: task.task_id.clone(),
        reason: format!("encoding statistics: {e}"),
    })?;
    stats["decisions"] = json!(simulation.steps());
    stats["borrow_fees"] = json!(simulation.account.borrow_fees);
    stats["rejected_orders"] = json!(simulation.rejected_orders());
    stats["strategy"] = json!(task.strategy);
    stats["fill"] = json!(options.fill);
    Ok(stats)
}
