//! Running an experiment's tasks in this process (`aibt experiment run`), beside any worker that
//! shares the database: each task is claimed and run like any other, with separate slots for
//! rule and model tasks, until every task has ended or the experiment is paused.

use std::sync::Arc;
use std::time::Duration;

use aibt_store::{ClaimFilter, Store};
use tokio::sync::Semaphore;

use super::board::Progress;
use super::create::{ExperimentChange, change_experiment};
use super::load::{experiment_tasks, progress_of};
use crate::error::Result;
use crate::run::claim;
use crate::strategy::column_uses_model;
use crate::worker::WorkerOptions;

/// Why [`drive`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driven {
    /// Every task has ended (completed, failed or cancelled).
    Ended,
    /// The experiment was paused (here, on `stop`, or from elsewhere).
    Paused,
}

/// Claims and runs the experiment's tasks until they have all ended or the experiment is
/// paused; `stop` resolving pauses the experiment (Ctrl-C) and waits for the runs to let go.
pub async fn drive(
    store: Arc<dyn Store>,
    experiment_id: &str,
    options: &WorkerOptions,
    progress: &mut (dyn FnMut(&Progress) + Send),
    stop: impl std::future::Future<Output = ()>,
) -> Result<Driven> {
    let cpu = Arc::new(Semaphore::new(options.cpu_slots.max(1)));
    let model = Arc::new(Semaphore::new(options.model_slots.max(1)));
    let mut running = tokio::task::JoinSet::new();
    let mut held = std::collections::HashSet::new();
    tokio::pin!(stop);
    loop {
        let (experiment, _, tasks) = experiment_tasks(store.as_ref(), experiment_id).await?;
        progress(&progress_of(&tasks));
        if experiment.status == aibt_core::TaskStatus::Paused
            || experiment.status == aibt_core::TaskStatus::Cancelled
        {
            while running.join_next().await.is_some() {}
            return Ok(Driven::Paused);
        }
        let live = tasks.iter().filter(|t| t.status.is_live()).count();
        if live == 0 && running.is_empty() {
            // A task paused on its own (at its share of the budget) waits for a resume.
            return Ok(
                if tasks
                    .iter()
                    .any(|t| t.status == aibt_core::TaskStatus::Paused)
                {
                    Driven::Paused
                } else {
                    Driven::Ended
                },
            );
        }
        let claimable: Vec<_> = tasks
            .iter()
            .filter(|t| t.status == aibt_core::TaskStatus::Running && !held.contains(&t.task_id))
            .collect();
        for task in claimable {
            let slots = if column_uses_model(&task.strategy) {
                &model
            } else {
                &cpu
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                continue;
            };
            // None: another worker holds it (its lease is live); it runs there.
            let Some(claimed) =
                claim(&store, &options.run, ClaimFilter::task(&task.task_id)).await?
            else {
                continue;
            };
            held.insert(task.task_id.clone());
            let task_id = task.task_id.clone();
            running.spawn(async move {
                let outcome = claimed.run(&mut |_| {}).await;
                drop(permit);
                (task_id, outcome)
            });
        }
        tokio::select! {
            _ = &mut stop => {
                change_experiment(store.as_ref(), experiment_id, ExperimentChange::Pause).await?;
            }
            Some(joined) = running.join_next(), if !running.is_empty() => {
                // Every run that has ended by now is taken in this one pass. Taking one per
                // pass re-read all the experiment's tasks once per ended run, and when many end
                // together (an experiment's last round: 100 tasks within ~0.6 s) the loop fell
                // behind and returned ~0.6 s after the last task had ended.
                let mut joined = Some(joined);
                while let Some(result) = joined {
                    if let Ok((task_id, outcome)) = result {
                        held.remove(&task_id);
                        if let Err(error) = outcome {
                            // The lease runs out and the task is claimed again.
                            tracing::warn!(task_id = %task_id, %error, "task run failed; it will be retried");
                        }
                    }
                    joined = running.try_join_next();
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}
