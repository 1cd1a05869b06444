//! How a task's rows change while it runs: workers claim it under a lease, its status moves by
//! compare-and-set, its steps commit in fenced batches, and a delete is refused while it runs.

use aibt_core::TaskStatus;
use chrono::{DateTime, Utc};

use crate::rows::{AccountSnapshot, LocalDecision, Task, TradeRecord, VirtualAccount};

/// Which tasks a worker may claim.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClaimFilter<'a> {
    /// Only this task.
    pub task_id: Option<&'a str>,
    /// Only tasks of this strategy, or only tasks of any other (a worker keeps separate slots
    /// for tasks that wait on a model and tasks that use a core).
    pub strategy: Option<StrategyFilter<'a>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategyFilter<'a> {
    Only(&'a str),
    Except(&'a str),
}

impl<'a> ClaimFilter<'a> {
    /// Any claimable task.
    pub fn any() -> ClaimFilter<'a> {
        ClaimFilter::default()
    }

    /// Only the task `task_id`.
    pub fn task(task_id: &'a str) -> ClaimFilter<'a> {
        ClaimFilter {
            task_id: Some(task_id),
            strategy: None,
        }
    }
}

/// The lifecycle columns of a task, written together by a status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    pub status: TaskStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub paused_at: Option<DateTime<Utc>>,
    pub resumed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub error_message: Option<String>,
    pub stats: Option<serde_json::Value>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The task's options, changed with its status where a transition changes how it runs
    /// (a resume that raises the budget).
    pub options: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}

impl Lifecycle {
    pub fn of(task: &Task) -> Lifecycle {
        Lifecycle {
            status: task.status,
            started_at: task.started_at,
            paused_at: task.paused_at,
            resumed_at: task.resumed_at,
            completed_at: task.completed_at,
            error_message: task.error_message.clone(),
            stats: task.stats.clone(),
            lease_owner: task.lease_owner.clone(),
            lease_expires_at: task.lease_expires_at,
            options: task.options.clone(),
            updated_at: task.updated_at,
        }
    }
}

/// Everything one or more consecutive steps of a task write. A backend commits it in one
/// transaction, and only while the writer still holds the task's lease and the task is
/// RUNNING, so a paused, cancelled or taken-over task never receives a late step.
#[derive(Debug, Clone)]
pub struct StepBatch {
    pub task_id: String,
    pub lease_owner: String,
    pub lease_expires_at: DateTime<Utc>,
    pub decisions: Vec<LocalDecision>,
    pub trades: Vec<TradeRecord>,
    pub snapshots: Vec<AccountSnapshot>,
    /// The run account after the last step of the batch.
    pub account: VirtualAccount,
    pub processed_items: i64,
    pub total_items: Option<i64>,
    pub checkpoint: serde_json::Value,
    pub now: DateTime<Utc>,
}

/// Whether a batch was committed, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Nothing was written: the task is no longer RUNNING under this lease.
    Refused {
        status: TaskStatus,
        lease_owner: Option<String>,
    },
}

impl CommitOutcome {
    /// The lease fence: a batch of `writer` may be written into a task found at `status`
    /// under `lease_owner` only while the task is RUNNING and the lease is the writer's.
    pub fn fence(
        status: TaskStatus,
        lease_owner: Option<String>,
        writer: &str,
    ) -> Option<CommitOutcome> {
        if status == TaskStatus::Running && lease_owner.as_deref() == Some(writer) {
            None
        } else {
            Some(CommitOutcome::Refused {
                status,
                lease_owner,
            })
        }
    }
}

/// Whether a task was deleted, or the status that refused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    Refused(TaskStatus),
}

/// Resolves when an earlier batch is settled: true if it committed.
pub type After = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;
