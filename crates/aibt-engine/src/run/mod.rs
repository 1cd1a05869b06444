//! Running a task that this worker holds the lease of: the one run loop of every strategy.
//!
//! A task is claimed (a lease in the store), then run: its bars are fed to the simulation
//! (aibt-core) bar by bar, its decision source (a rule, a model or a replay; `decide`) decides
//! at decision bars, and the rows the run produces are committed in batches, each batch one
//! transaction together with the run account and a checkpoint. A run that stops (killed,
//! paused, its lease lost) resumes from the last committed batch and produces exactly what an
//! uninterrupted run would.

mod feed;
mod flush;
mod heartbeat;
mod recorder;
mod steps;

use std::sync::Arc;
use std::time::Duration;

use aibt_core::broker::Account;
use aibt_core::{Checkpoint, TaskStatus};
use aibt_store::{ClaimFilter, SeriesKey, Store, Task, VirtualAccount};
use chrono::{DateTime, Utc};

use crate::accounts::account_settings;
use crate::decide::RuleSource;
use crate::error::{EngineError, Result};
use crate::model::ModelSource;
use crate::replay::ReplayStrategy;
use crate::series::series_of;
use crate::strategy::StrategyRef;
use crate::task::{TaskOptions, Transition, settle_run};
use feed::Feed;

/// How a worker runs tasks.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Written into `tasks.lease_owner`; unique per worker process.
    pub worker_id: String,
    /// How long a lease lasts without renewal; every commit renews it.
    pub lease: chrono::Duration,
    /// A batch is committed after this many bars...
    pub batch_bars: usize,
    /// ...or after this much time, whichever comes first.
    pub batch_interval: Duration,
    /// Bars read from the store at a time.
    pub read_chunk: u32,
}

impl RunConfig {
    pub fn new(worker_id: impl Into<String>) -> RunConfig {
        RunConfig {
            worker_id: worker_id.into(),
            lease: chrono::Duration::seconds(30),
            batch_bars: 16384,
            batch_interval: Duration::from_millis(500),
            read_chunk: 16_384,
        }
    }
}

/// Progress of a run, reported after each commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub task_id: String,
    pub processed_items: u64,
    pub total_items: u64,
    pub bars_done: u64,
    pub bars_total: u64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// The task reached a final state (COMPLETED, COMPLETED_WITH_ERRORS or FAILED).
    Finished(Box<Task>),
    /// Another party stopped it (paused, cancelled) or took over its lease.
    Stopped {
        status: TaskStatus,
        lease_owner: Option<String>,
    },
}

/// A task this worker has claimed: the lease is its until the run ends or the lease lapses.
pub struct Claimed {
    store: Arc<dyn Store>,
    config: RunConfig,
    task: Task,
}

impl Claimed {
    pub fn task(&self) -> &Task {
        &self.task
    }

    /// Whether the task's decisions come from a model (it will mostly wait).
    pub fn uses_model(&self) -> bool {
        crate::strategy::column_uses_model(&self.task.strategy)
    }

    /// Runs the task until it finishes or is stopped. A failure of the run itself (not of
    /// the database) marks the task FAILED with the reason.
    pub async fn run(self, progress: &mut (dyn FnMut(&Progress) + Send)) -> Result<RunOutcome> {
        let task_id = self.task.task_id.clone();
        match execute(self.store.clone(), self.task, &self.config, progress).await {
            Ok(outcome) => Ok(outcome),
            // The database failed: the lease runs out and this or another worker tries again.
            Err(EngineError::Store(error)) => Err(EngineError::Store(error)),
            // The run stopped before the refused call, with every decision before it committed
            // (a model task commits each one); a resume with a larger budget replays from the
            // last checkpoint and goes on from there.
            Err(EngineError::OutOfBudget(reason)) => {
                match settle_run(
                    self.store.as_ref(),
                    &task_id,
                    Transition::OutOfBudget { reason },
                    &self.config.worker_id,
                )
                .await
                {
                    Ok(task) => Ok(RunOutcome::Stopped {
                        status: task.status,
                        lease_owner: None,
                    }),
                    Err(EngineError::WrongState { status, .. }) => Ok(RunOutcome::Stopped {
                        status,
                        lease_owner: None,
                    }),
                    Err(other) => Err(other),
                }
            }
            Err(error) => {
                let worker = &self.config.worker_id;
                fail(self.store.as_ref(), &task_id, worker, error.to_string()).await
            }
        }
    }
}

/// Takes the lease of the oldest RUNNING task that `filter` admits and nobody holds.
pub async fn claim(
    store: &Arc<dyn Store>,
    config: &RunConfig,
    filter: ClaimFilter<'_>,
) -> Result<Option<Claimed>> {
    claim_at(store, config, filter, aibt_core::time::now()).await
}

/// [`claim`] as of `now` (tests move a clock past leases).
pub async fn claim_at(
    store: &Arc<dyn Store>,
    config: &RunConfig,
    filter: ClaimFilter<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Claimed>> {
    let task = store
        .claim_task(&config.worker_id, filter, now, now + config.lease)
        .await?;
    Ok(task.map(|task| Claimed {
        store: store.clone(),
        config: config.clone(),
        task,
    }))
}

/// Claims a task and runs it to its end or until it is stopped; `None` when there was no
/// task to claim. The worker, `aibt backtest`, the tests and the benchmarks all run tasks
/// through this (the worker claims first, to choose a slot, then runs).
pub async fn claim_and_run(
    store: &Arc<dyn Store>,
    config: &RunConfig,
    filter: ClaimFilter<'_>,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<Option<RunOutcome>> {
    match claim(store, config, filter).await? {
        Some(claimed) => Ok(Some(claimed.run(progress).await?)),
        None => Ok(None),
    }
}

/// Sets the run up for its strategy and runs its steps.
async fn execute(
    store: Arc<dyn Store>,
    task: Task,
    config: &RunConfig,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<RunOutcome> {
    let strategy = StrategyRef::of_task(&task)?;
    let options = TaskOptions::of_task(&task)?;
    let series = series_of(&task)?;
    let stored_account = store.get_task_account(&task.task_id).await?;
    let run = steps::Run {
        checkpoint: load_checkpoint(&task)?,
        account: account_of(&stored_account, &task.task_id),
        records_holds: options.records_holds(&strategy),
        store: store.clone(),
        config,
        task: &task,
        options: &options,
        stored_account,
    };
    match &strategy {
        StrategyRef::Template {
            prompt_id,
            ai_config_id,
        } => {
            let settings = run.account.settings.clone();
            let source =
                ModelSource::open(store, &task, &options, (prompt_id, ai_config_id), settings)
                    .await?;
            let (bars, offset) = source.bars();
            let history = bars[..offset].to_vec();
            let total = (bars.len() - offset) as u64;
            run.steps(source, history, Feed::loaded(bars, offset), total, progress)
                .await
        }
        StrategyRef::Builtin { params, .. } => {
            let rule = aibt_ai::builtin_strategy(&strategy.column(), params)?;
            let source = RuleSource::new(rule);
            rule_steps(run, source, &series, progress).await
        }
        StrategyRef::Replay { task_id } => {
            let replay = ReplayStrategy::load(store.as_ref(), task_id).await?;
            rule_steps(run, RuleSource::new(Box::new(replay)), &series, progress).await
        }
    }
}

/// A rule's run: its warm-up history read before the period, the period read in chunks.
async fn rule_steps(
    run: steps::Run<'_>,
    source: RuleSource,
    series: &SeriesKey,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<RunOutcome> {
    use crate::decide::DecisionSource;
    let (store, task) = (&run.store, run.task);
    let warmup = source.warmup_bars();
    let history = if warmup > 0 {
        store
            .bars_before(
                series,
                task.start_date,
                u32::try_from(warmup).unwrap_or(u32::MAX),
            )
            .await?
    } else {
        Vec::new()
    };
    let total = store
        .count_bars(series, task.start_date, task.end_date)
        .await?;
    let feed = Feed::chunked(
        store.clone(),
        series.clone(),
        (task.start_date, task.end_date),
        run.config.read_chunk,
        &task.task_id,
    );
    let total = u64::try_from(total).unwrap_or(0);
    run.steps(source, history, feed, total, progress).await
}

/// The broker account of a run account row.
pub fn account_of(row: &VirtualAccount, task_id: &str) -> Account {
    let mut account = Account::open(account_settings(row), task_id);
    account.available = row.available_balance;
    account.margin_used = row.margin_used;
    account.long_lots = row.long_positions.clone();
    account.short_lots = row.short_positions.clone();
    account.total_fees = row.total_fees;
    account.mark_price = row.stock_price;
    account
}

/// The checkpoint a previous run of the task committed, if any.
fn load_checkpoint(task: &Task) -> Result<Option<Checkpoint>> {
    match &task.checkpoint {
        Some(value) => Ok(Some(serde_json::from_value(value.clone()).map_err(
            |e| EngineError::Run {
                task_id: task.task_id.clone(),
                reason: format!("unreadable checkpoint: {e}"),
            },
        )?)),
        None => Ok(None),
    }
}

/// Ends a run whose every step is committed. A pause or cancel that landed after the last
/// step wins: the task is then reported stopped, not finished.
async fn complete(
    store: &dyn Store,
    task_id: &str,
    worker: &str,
    with_errors: bool,
    stats: serde_json::Value,
) -> Result<RunOutcome> {
    let change = Transition::Complete { with_errors, stats };
    settle_transition(store, task_id, worker, change).await
}

/// Marks a run FAILED with the reason, unless it was stopped (or taken over) meanwhile.
async fn fail(
    store: &dyn Store,
    task_id: &str,
    worker: &str,
    reason: String,
) -> Result<RunOutcome> {
    settle_transition(store, task_id, worker, Transition::Fail { error: reason }).await
}

/// Ends this worker's run, fenced by its lease.
async fn settle_transition(
    store: &dyn Store,
    task_id: &str,
    worker: &str,
    change: Transition,
) -> Result<RunOutcome> {
    match settle_run(store, task_id, change, worker).await {
        Ok(finished) => Ok(RunOutcome::Finished(Box::new(finished))),
        Err(EngineError::WrongState { status, .. }) => Ok(RunOutcome::Stopped {
            status,
            lease_owner: None,
        }),
        Err(other) => Err(other),
    }
}
