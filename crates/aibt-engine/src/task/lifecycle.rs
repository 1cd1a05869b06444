//! Moving a task through the seed's lifecycle.
//!
//! Which transitions exist is `TaskStatus::can_become` (aibt-core); this module applies them
//! with the timestamps each one sets, as a compare-and-set on the stored status, so two
//! callers racing (a pause and a completion, say) cannot both win.

use aibt_core::TaskStatus;
use aibt_store::{Lifecycle, Store, Task};

use super::TaskOptions;
use crate::budget::Budget;
use crate::error::{EngineError, Result};

/// A lifecycle change a user or worker asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Start,
    Pause,
    /// The run stopped before a call that would pass the task's budget.
    OutOfBudget {
        reason: String,
    },
    Resume,
    /// A resume with a new budget in the task's options.
    ResumeWithBudget(Budget),
    Cancel,
    Complete {
        with_errors: bool,
        stats: serde_json::Value,
    },
    Fail {
        error: String,
    },
}

impl Transition {
    fn target(&self) -> TaskStatus {
        match self {
            Transition::Start | Transition::Resume | Transition::ResumeWithBudget(_) => {
                TaskStatus::Running
            }
            Transition::Pause | Transition::OutOfBudget { .. } => TaskStatus::Paused,
            Transition::Cancel => TaskStatus::Cancelled,
            Transition::Complete {
                with_errors: false, ..
            } => TaskStatus::Completed,
            Transition::Complete {
                with_errors: true, ..
            } => TaskStatus::CompletedWithErrors,
            Transition::Fail { .. } => TaskStatus::Failed,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Transition::Start => "start",
            Transition::Pause | Transition::OutOfBudget { .. } => "pause",
            Transition::Resume | Transition::ResumeWithBudget(_) => "resume",
            Transition::Cancel => "cancel",
            Transition::Complete { .. } => "complete",
            Transition::Fail { .. } => "fail",
        }
    }

    /// Whether the transition applies from `status`: start only from PENDING, resume only from
    /// PAUSED or FAILED, and the rest as the lifecycle table allows.
    pub fn allowed_from(&self, status: TaskStatus) -> bool {
        let by_table = status.can_become(self.target());
        match self {
            Transition::Start => status == TaskStatus::Pending,
            Transition::Resume | Transition::ResumeWithBudget(_) => {
                by_table && matches!(status, TaskStatus::Paused | TaskStatus::Failed)
            }
            _ => by_table,
        }
    }
}

/// Applies a transition, refusing (with [`EngineError::WrongState`]) one the lifecycle does
/// not allow from the stored status.
pub async fn transition(store: &dyn Store, task_id: &str, transition: Transition) -> Result<Task> {
    change(store, task_id, transition, None).await
}

/// Applies a transition that ends a worker's own run (complete, fail, out of budget), fenced
/// by its lease: if another worker has taken the task over meanwhile, nothing changes and the
/// answer is [`EngineError::WrongState`].
pub async fn settle_run(
    store: &dyn Store,
    task_id: &str,
    transition: Transition,
    worker: &str,
) -> Result<Task> {
    change(store, task_id, transition, Some(worker)).await
}

async fn change(
    store: &dyn Store,
    task_id: &str,
    transition: Transition,
    holder: Option<&str>,
) -> Result<Task> {
    // A status can change between reading it and writing; the write is conditional on the
    // status read (and the lease holder), so a lost race is retried against the new status.
    for _ in 0..3 {
        let task = store.get_task(task_id).await?;
        if let Some(holder) = holder
            && task.lease_owner.as_deref() != Some(holder)
        {
            return Err(EngineError::WrongState {
                task_id: task_id.to_string(),
                status: task.status,
                reason: format!(
                    "cannot {} it: its lease is no longer {holder}'s",
                    transition.name()
                ),
            });
        }
        if !transition.allowed_from(task.status) {
            return Err(EngineError::WrongState {
                task_id: task_id.to_string(),
                status: task.status,
                reason: format!("cannot {} a {} task", transition.name(), task.status),
            });
        }
        let now = aibt_core::time::now();
        let mut next = Lifecycle::of(&task);
        next.status = transition.target();
        next.updated_at = now;
        match &transition {
            Transition::Start => {
                next.started_at = Some(now);
                next.error_message = None;
            }
            Transition::Pause | Transition::OutOfBudget { .. } => {
                next.paused_at = Some(now);
                next.lease_owner = None;
                next.lease_expires_at = None;
                if let Transition::OutOfBudget { reason } = &transition {
                    next.error_message = Some(reason.clone());
                }
            }
            Transition::Resume | Transition::ResumeWithBudget(_) => {
                if let Transition::ResumeWithBudget(budget) = &transition {
                    let mut options = TaskOptions::of_task(&task)?;
                    options.budget = (!budget.is_empty()).then(|| budget.clone());
                    next.options = serde_json::to_value(&options).map_err(|e| {
                        EngineError::invalid("options", format!("encoding options: {e}"))
                    })?;
                }
                next.resumed_at = Some(now);
                next.error_message = None;
                next.lease_owner = None;
                next.lease_expires_at = None;
                if next.started_at.is_none() {
                    next.started_at = Some(now);
                }
            }
            Transition::Cancel => {
                next.completed_at = Some(now);
                next.lease_owner = None;
                next.lease_expires_at = None;
            }
            Transition::Complete { stats, .. } => {
                next.completed_at = Some(now);
                next.stats = Some(stats.clone());
                next.lease_owner = None;
                next.lease_expires_at = None;
            }
            Transition::Fail { error } => {
                next.completed_at = Some(now);
                next.error_message = Some(error.clone());
                next.lease_owner = None;
                next.lease_expires_at = None;
            }
        }
        match store
            .update_lifecycle(task_id, task.status, holder, &next)
            .await
        {
            Ok(updated) => return Ok(updated),
            Err(aibt_store::StoreError::Conflict(_)) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    let task = store.get_task(task_id).await?;
    Err(EngineError::WrongState {
        task_id: task_id.to_string(),
        status: task.status,
        reason: format!(
            "the task changed state while trying to {}",
            transition.name()
        ),
    })
}

/// Resumes a task with a new budget (raised, say, after it paused at the old one), checked
/// as a new task's is.
pub async fn resume_with_budget(store: &dyn Store, task_id: &str, budget: Budget) -> Result<Task> {
    let task = store.get_task(task_id).await?;
    if !budget.is_empty() {
        let strategy = crate::strategy::StrategyRef::of_task(&task)?;
        super::check_budget(store, &strategy, &budget, "budget").await?;
    }
    transition(store, task_id, Transition::ResumeWithBudget(budget)).await
}
