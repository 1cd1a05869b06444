//! Running a task that this worker holds the lease of: bars are read from the store in
//! chunks, the simulation advances bar by bar, and its rows are committed in batches, each
//! batch one transaction together with the run account and a checkpoint. A run that stops
//! (killed, paused, its lease lost) resumes from the last committed batch and produces
//! exactly what an uninterrupted run would.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aibt_core::broker::Account;
use aibt_core::{Bar, DecisionContext, PointInTime, Strategy, TaskStatus};
use aibt_store::{BarRange, CommitOutcome, SeriesKey, StepBatch, Store, Task, VirtualAccount};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::error::{EngineError, Result};
use crate::recorder::{DecisionFacts, Recorder};
use crate::simulation::{BarFills, Checkpoint, Simulation, decision_count, first_decision_bar};
use crate::task::{TaskOptions, Transition, account_settings, transition};

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

/// The series a task replays.
pub fn series_of(task: &Task) -> Result<SeriesKey> {
    let market_type = task.market_type.ok_or_else(|| {
        EngineError::invalid(
            "market_type",
            format!("task {} has no market type", task.task_id),
        )
    })?;
    Ok(SeriesKey {
        symbol: task.stock_symbol.clone(),
        market_type,
        granularity: task.time_granularity,
    })
}

/// The options a task was created with.
pub fn options_of(task: &Task) -> Result<TaskOptions> {
    serde_json::from_value(task.options.clone())
        .map_err(|e| EngineError::invalid("options", format!("unreadable task options: {e}")))
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

/// Runs a task this worker holds the lease of until it finishes or is stopped. A failure of
/// the run itself (not of the database) marks the task FAILED with the reason.
pub async fn run_task(
    store: Arc<dyn Store>,
    task: Task,
    config: &RunConfig,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<RunOutcome> {
    let task_id = task.task_id.clone();
    match execute(store.clone(), task, config, progress).await {
        Ok(outcome) => Ok(outcome),
        Err(EngineError::Store(error)) => Err(EngineError::Store(error)),
        Err(error) => {
            let reason = error.to_string();
            match transition(store.as_ref(), &task_id, Transition::Fail { error: reason }).await {
                Ok(failed) => Ok(RunOutcome::Finished(Box::new(failed))),
                Err(EngineError::WrongState { status, .. }) => Ok(RunOutcome::Stopped {
                    status,
                    lease_owner: None,
                }),
                Err(other) => Err(other),
            }
        }
    }
}

/// Bars kept for the decision window: the last `capacity`, contiguous in memory.
struct Window {
    bars: Vec<Bar>,
    capacity: usize,
}

impl Window {
    fn new(capacity: usize) -> Window {
        let capacity = capacity.max(1);
        Window {
            bars: Vec::with_capacity(capacity * 2),
            capacity,
        }
    }

    fn push(&mut self, bar: Bar) {
        if self.bars.len() == self.capacity * 2 {
            // Amortised: shifting half the buffer once every `capacity` bars keeps the window
            // a plain slice without a ring buffer's wrap-around.
            self.bars.drain(..self.capacity);
        }
        self.bars.push(bar);
    }

    fn view(&self) -> PointInTime<'_> {
        let start = self.bars.len().saturating_sub(self.capacity);
        PointInTime::ending_with(&self.bars[start..])
    }
}

/// The checkpoint a previous run of the task committed, if any.
pub(crate) fn load_checkpoint(task: &Task) -> Result<Option<Checkpoint>> {
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

/// The statistics of a finished run as the task stores them.
pub(crate) fn stats_json(
    task: &Task,
    simulation: &Simulation,
    options: &TaskOptions,
) -> Result<serde_json::Value> {
    let mut stats = serde_json::to_value(simulation.stats()).map_err(|e| EngineError::Run {
        task_id: task.task_id.clone(),
        reason: format!("encoding statistics: {e}"),
    })?;
    stats["decisions"] = json!(simulation.steps());
    stats["rejected_orders"] = json!(simulation.rejected_orders());
    stats["strategy"] = json!(task.strategy);
    stats["fill"] = json!(options.fill);
    Ok(stats)
}

/// The synchronous strategy of a rule or replay task.
async fn rule_strategy(
    store: &dyn Store,
    task: &Task,
    options: &TaskOptions,
) -> Result<Box<dyn Strategy>> {
    if let Some(source) = task.strategy.strip_prefix(crate::replay::PREFIX) {
        return Ok(Box::new(
            crate::replay::ReplayStrategy::load(store, source).await?,
        ));
    }
    Ok(aibt_ai::builtin_strategy(&task.strategy, &options.params)?)
}

async fn execute(
    store: Arc<dyn Store>,
    task: Task,
    config: &RunConfig,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<RunOutcome> {
    if task.strategy == crate::task::TEMPLATE_STRATEGY {
        return crate::llm_run::execute_llm(store, task, config, progress).await;
    }
    let options = options_of(&task)?;
    let series = series_of(&task)?;
    let mut strategy = rule_strategy(store.as_ref(), &task, &options).await?;
    let stored_account = store.get_task_account(&task.task_id).await?;
    let checkpoint = load_checkpoint(&task)?;

    let warmup = strategy.warmup_bars();
    let warmup_bars = if warmup > 0 {
        store
            .bars_before(
                &series,
                task.start_date,
                u32::try_from(warmup).unwrap_or(u32::MAX),
            )
            .await?
    } else {
        Vec::new()
    };
    let bars_total = u64::try_from(
        store
            .count_bars(&series, task.start_date, task.end_date)
            .await?,
    )
    .unwrap_or(0);
    let interval = u64::try_from(task.decision_interval).unwrap_or(1).max(1);
    let first_decision = first_decision_bar(warmup as u64, warmup_bars.len() as u64, interval);
    let total_items = decision_count(bars_total, first_decision, interval);

    let mut window = Window::new(1);
    for bar in &warmup_bars {
        strategy.observe(bar);
        window.push(*bar);
    }
    let account = account_of(&stored_account, &task.task_id);
    let mut simulation =
        Simulation::new(account, options.fill, interval, first_decision, checkpoint);
    let mut recorder = Recorder {
        task_id: task.task_id.clone(),
        account_id: stored_account.account_id.clone(),
        symbol: task.stock_symbol.clone(),
        market_type: series.market_type,
        initial_balance: stored_account.initial_balance,
        rows: Default::default(),
    };
    let resume_at = simulation.next_bar();
    let record_holds = options.records_holds(&task.strategy);

    let mut flush = Flusher::new(
        store.clone(),
        task.task_id.clone(),
        config,
        stored_account,
        total_items,
        bars_total,
    );

    let mut index: u64 = 0;
    let mut fills = BarFills::default();
    let read = |after: Option<DateTime<Utc>>| {
        let store = store.clone();
        let series = series.clone();
        let range = BarRange {
            from: Some(task.start_date),
            to: Some(task.end_date),
            after,
            limit: Some(config.read_chunk),
        };
        // Reading runs beside the simulation: the next chunk arrives while this one is used.
        tokio::spawn(async move { store.bars(&series, range).await })
    };
    let mut next_chunk = Some(read(None));
    while let Some(reading) = next_chunk.take() {
        let chunk = reading.await.map_err(|e| EngineError::Run {
            task_id: task.task_id.clone(),
            reason: format!("reading bars: {e}"),
        })??;
        let Some(last) = chunk.last() else {
            break;
        };
        if chunk.len() == config.read_chunk as usize {
            next_chunk = Some(read(Some(last.ts)));
        }
        let decision_time = aibt_core::time::now();
        for bar in &chunk {
            strategy.observe(bar);
            window.push(*bar);
            if index < resume_at {
                // Replaying what a previous run committed: only the strategy's state and the
                // window are rebuilt, from the same bars.
                index += 1;
                continue;
            }
            let view = window.view();
            let outcome = simulation.step(bar, &mut fills, &mut |account, step| {
                let context = DecisionContext {
                    window: view,
                    account,
                    step,
                    time: bar.ts,
                };
                (strategy.decide(&context), recorder.decision_id(step))
            })?;
            if let Some((step, decision)) = &outcome.decided
                && (record_holds || decision.action != aibt_core::TradeAction::Hold)
            {
                recorder.decision(
                    *step,
                    bar,
                    decision,
                    DecisionFacts {
                        start_time: decision_time,
                        end_time: decision_time,
                        ..DecisionFacts::default()
                    },
                );
            }
            let equity = outcome.equity;
            recorder.fills(&fills);
            recorder.snapshot(index, bar, &simulation.account, equity)?;
            index += 1;
            flush.bars_in_batch += 1;
            if flush.due()
                && let Some(stopped) = flush.commit(&mut recorder, &simulation, progress).await?
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

    let stats = stats_json(&task, &simulation, &options)?;
    complete(store.as_ref(), &task.task_id, false, stats).await
}

/// Ends a run whose every step is committed. A pause or cancel that landed after the last
/// step wins: the task is then reported stopped, not finished.
pub(crate) async fn complete(
    store: &dyn Store,
    task_id: &str,
    with_errors: bool,
    stats: serde_json::Value,
) -> Result<RunOutcome> {
    match transition(store, task_id, Transition::Complete { with_errors, stats }).await {
        Ok(finished) => Ok(RunOutcome::Finished(Box::new(finished))),
        Err(EngineError::WrongState { status, .. }) => Ok(RunOutcome::Stopped {
            status,
            lease_owner: None,
        }),
        Err(other) => Err(other),
    }
}

/// Commits batches: rows, run account, progress and checkpoint in one transaction each.
/// While one batch is written, the next is computed and rendered; it is written only after
/// its predecessor committed (its `after` gate), so batches land in order and a batch whose
/// predecessor failed or was refused is never written.
pub(crate) struct Flusher<'a> {
    store: Arc<dyn Store>,
    task_id: String,
    config: &'a RunConfig,
    stored_account: VirtualAccount,
    total_items: u64,
    bars_total: u64,
    pub(crate) bars_in_batch: usize,
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
    pub(crate) fn new(
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

    fn due(&self) -> bool {
        self.bars_in_batch >= self.config.batch_bars
            || self.batch_started.elapsed() >= self.config.batch_interval
    }

    /// Waits for the batch in flight; `Some` when the task was stopped from outside.
    pub(crate) async fn settle(
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
    pub(crate) async fn commit(
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
