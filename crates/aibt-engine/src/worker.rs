//! A worker: claims RUNNING tasks from the database and runs them, any number of workers per
//! host and any number of hosts per database.
//!
//! A claim is a lease (`tasks.lease_owner`, `lease_expires_at`) that every commit renews; a
//! worker that dies stops renewing, and once the lease has expired another worker claims the
//! task and resumes it from its last committed step. Pause and cancel are status changes in
//! the database: the running worker's next commit is refused and it lets the task go.
//!
//! Slots are kept apart for tasks that use a core (rules, replays) and tasks that mostly wait
//! on a model, so that a hundred slow model calls do not starve a rule backtest of a worker
//! and the other way round.

use std::sync::Arc;
use std::time::Duration;

use aibt_store::Store;
use tokio::sync::{Notify, Semaphore};

use crate::run::{RunConfig, RunOutcome, claim};
use crate::strategy::claim_filter;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub run: RunConfig,
    /// Rule and replay tasks run at once (they use a core each).
    pub cpu_slots: usize,
    /// Model tasks run at once (they mostly wait; the AI config's own limit bounds the calls).
    pub model_slots: usize,
    /// How often an idle worker looks for work (a task started in this process wakes it at
    /// once).
    pub poll: Duration,
}

impl WorkerOptions {
    /// A core's worth of rule tasks per core, and 32 model tasks.
    pub fn new(worker_id: impl Into<String>) -> WorkerOptions {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        WorkerOptions {
            run: RunConfig::new(worker_id),
            cpu_slots: cores,
            model_slots: 32,
            poll: Duration::from_millis(500),
        }
    }
}

/// A way to reach a running worker: wake it when a task was started in this process.
#[derive(Clone, Default)]
pub struct WorkerHandle {
    wake: Arc<Notify>,
}

impl WorkerHandle {
    pub fn new() -> WorkerHandle {
        WorkerHandle::default()
    }

    /// Makes the worker look for work now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Claims and runs tasks until `shutdown` resolves; then stops claiming, lets go of the tasks
/// it holds (so another worker can take them over at once) and returns.
pub async fn run_worker(
    store: Arc<dyn Store>,
    options: WorkerOptions,
    handle: WorkerHandle,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let cpu = Arc::new(Semaphore::new(options.cpu_slots.max(1)));
    let model = Arc::new(Semaphore::new(options.model_slots.max(1)));
    let mut running = tokio::task::JoinSet::new();
    let held: Arc<std::sync::Mutex<std::collections::HashSet<String>>> = Arc::default();
    tokio::pin!(shutdown);
    tracing::info!(
        worker = %options.run.worker_id,
        cpu_slots = options.cpu_slots,
        model_slots = options.model_slots,
        "worker started"
    );
    loop {
        // Claim while there are free slots and claimable tasks.
        while let Some(filter) =
            claim_filter(model.available_permits() > 0, cpu.available_permits() > 0)
        {
            let claimed = match claim(&store, &options.run, filter).await {
                Ok(Some(claimed)) => claimed,
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(%error, "claiming a task failed; trying again later");
                    break;
                }
            };
            let slots = if claimed.uses_model() { &model } else { &cpu };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                // Cannot happen: the filter only admits tasks of a kind with a free slot.
                break;
            };
            let task_id = claimed.task().task_id.clone();
            if let Ok(mut held) = held.lock() {
                held.insert(task_id.clone());
            }
            let held = held.clone();
            tracing::info!(task_id = %task_id, strategy = %claimed.task().strategy, "claimed task");
            running.spawn(async move {
                let outcome = claimed.run(&mut |_| {}).await;
                match outcome {
                    Ok(RunOutcome::Finished(task)) => {
                        tracing::info!(task_id = %task_id, status = %task.status, "task finished")
                    }
                    Ok(RunOutcome::Stopped { status, .. }) => {
                        tracing::info!(task_id = %task_id, %status, "task stopped")
                    }
                    // The lease runs out and this or another worker tries the task again.
                    Err(error) => {
                        tracing::warn!(task_id = %task_id, %error, "task run failed; it will be retried")
                    }
                }
                if let Ok(mut held) = held.lock() {
                    held.remove(&task_id);
                }
                drop(permit);
            });
        }
        tokio::select! {
            _ = &mut shutdown => break,
            _ = handle.wake.notified() => {}
            _ = tokio::time::sleep(options.poll) => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    running.abort_all();
    while running.join_next().await.is_some() {}
    let held: Vec<String> = held
        .lock()
        .map(|h| h.iter().cloned().collect())
        .unwrap_or_default();
    for task_id in held {
        // An expired lease is free to claim: another worker need not wait for it to lapse.
        let _ = store
            .renew_lease(
                &task_id,
                &options.run.worker_id,
                aibt_core::time::now() - chrono::Duration::seconds(1),
            )
            .await;
    }
    tracing::info!(worker = %options.run.worker_id, "worker stopped");
}
